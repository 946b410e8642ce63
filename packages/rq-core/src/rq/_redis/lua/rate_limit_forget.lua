-- rate_limit_forget.lua: forget a rate-limit key nobody holds or waits for (RQ 3.0's cleanup).
--
-- KEYS[1]  rq:rl:<key>:allowed
-- KEYS[2]  rq:rl:<key>:rate_limited
-- KEYS[3]  rq:rl:<key>               (config hash)
-- KEYS[4]  rq:rl-keys
-- ARGV[1]  the rate-limit key
--
-- Returns 1 forgotten, 0 still in use.
if redis.call('ZCARD', KEYS[1]) > 0 or redis.call('ZCARD', KEYS[2]) > 0 then
    return 0
end
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return 1
