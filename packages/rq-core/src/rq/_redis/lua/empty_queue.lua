-- empty_queue.lua: pop every id off a queue and delete each job hash and its dependents set.
-- Registries, results and dependency sets are left alone (as RQ does).
-- KEYS[1]  rq:queue:<q>
-- ARGV[1]  the job key prefix, 'rq:job:'
-- Returns the number of ids removed.
local count = 0
while true do
    local job_id = redis.call('LPOP', KEYS[1])
    if not job_id then
        break
    end
    redis.call('DEL', ARGV[1] .. job_id, ARGV[1] .. job_id .. ':dependents')
    count = count + 1
end
return count
