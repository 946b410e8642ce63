-- scheduler_unlock.lua: release a scheduler lock if this scheduler still holds it.
--
-- KEYS[1]  rq:scheduler-lock:<queue>
-- ARGV[1]  this scheduler's name
--
-- Returns 1 released, 0 not ours (free, or taken over by another scheduler: left alone).
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
end
return 0
