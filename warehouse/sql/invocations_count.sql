-- name: invocations_count
-- How many invocations of one tenant match the invocation list's filters.
select count(*) as total_count
from inv_src($inv_files)
where {filter}
