-- name: attachment_refs
-- The SHA-256 of every attachment that a live invocation of the tenant references.
select distinct json_extract_string(a, '$.sha256') as sha256
from (select unnest(from_json(attachments, '["json"]')) as a
      from inv_src($inv_files) where tenant = $tenant and attachments is not null)
where json_extract_string(a, '$.sha256') is not null
