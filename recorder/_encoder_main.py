"""Entry point of the encoder helper process (``python -m recorder._encoder_main``).

A module of its own, which the package never imports, so that ``-m`` runs it fresh.
"""

from recorder.encode_worker import main

main()
