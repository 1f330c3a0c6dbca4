-- name: invocations
-- One page of the filtered, sorted list of invocations of one tenant (a top-N,
-- not a full sort). Sorting ({order_by}) comes from a whitelist; ties break on the id.
select {columns}
from inv_src($inv_files)
where {filter}
order by {order_by}, invocation_id desc
limit $limit offset $offset
