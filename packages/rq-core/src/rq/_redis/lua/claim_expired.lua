-- claim_expired.lua: claim an expired sorted-set member for handling, so that concurrent cleaners
-- handle it once: if its score is still at or before ARGV[2], push it to ARGV[3] (a grace period,
-- after which it is expired again should the claimer die before removing it).
--
-- KEYS[1]  the sorted set (e.g. rq:wip:<q>)
-- ARGV[1]  the member
-- ARGV[2]  the expiry bound: the member is claimable when its score is at or before this
-- ARGV[3]  the score to give a claimed member
--
-- Returns 1 claimed, 0 not (gone, refreshed by a heartbeat, or claimed by someone else).
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) > tonumber(ARGV[2]) then
    return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
