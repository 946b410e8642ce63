-- scheduler_lock.lua: acquire, refresh or take over a scheduler lock (rq:scheduler-lock:<q>).
--
-- RQ 2.x's acquire-or-refresh (free: take it; ours: refresh it; else: leave it), plus a take-over of
-- a lock whose holder stopped refreshing it. Every live holder, ours or upstream's, sets the lock
-- with a TTL of its interval + 60 s and refreshes it every interval, so a live holder's lock always
-- has more than about 60 s left. A lock with ARGV[3] ms or less left has not been refreshed for
-- (60 - ARGV[3]/1000) s beyond its holder's interval: the holder is dead (or stuck that long).
--
-- KEYS[1]  rq:scheduler-lock:<queue>
-- ARGV[1]  this scheduler's name (the lock's value)
-- ARGV[2]  the lock's TTL in seconds
-- ARGV[3]  take-over threshold in ms: a lock held by another name with this much time left or less
--          (or with no TTL at all) is taken over; 0 never takes over
--
-- Returns 1 acquired (it was free), 2 refreshed (it was ours), 3 taken over, 0 held by another.
local holder = redis.call('GET', KEYS[1])
if not holder then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
    return 1
end
if holder == ARGV[1] then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    return 2
end
local threshold = tonumber(ARGV[3])
if threshold > 0 then
    local left = redis.call('PTTL', KEYS[1])
    if left == -1 or (left >= 0 and left <= threshold) then
        redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
        return 3
    end
end
return 0
