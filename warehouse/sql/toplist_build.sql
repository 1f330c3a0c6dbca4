-- name: toplist_build
-- The first $k rows of the invocation list of one invocations part (registered as the view
-- "part") in each sort order ({ranks}: one row number per order of the whitelist, ties broken
-- on the id as the page breaks them). Over whole days, the first rows of any unfiltered page
-- are among the union of its parts' first rows, so a page that ends within $k is exact.
select * exclude ({rank_names})
from (select {columns}, {ranks} from part)
where {keep}
