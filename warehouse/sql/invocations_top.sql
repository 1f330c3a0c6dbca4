-- name: invocations_top
-- One page of the unfiltered invocation list over whole days: the parts' top lists
-- (toplist_build.sql) stand in for the parts that have one, the others are read whole.
-- Equal, row for row, to invocations.sql without filters while the page ends within a
-- top list's length.
select *
from (
    select {columns} from inv_src($inv_files)
    where tenant = $tenant and started_at >= $start and started_at < $end
    union all by name
    select * from read_parquet($top_files)
    where started_at >= $start and started_at < $end
)
order by {order_by}, invocation_id desc
limit $limit offset $offset
