-- compact_queue.lua: one step of a queue's compaction: drop, from a window of the queue, the ids
-- whose job hash no longer exists, keeping the order of the others. The caller moves the window
-- along (ops.compact_queue), so one call handles at most ARGV[3] ids however long the queue.
--
-- KEYS[1]  rq:queue:<q>
-- ARGV[1]  the job key prefix, 'rq:job:'
-- ARGV[2]  the window's first position
-- ARGV[3]  the window's length
-- ARGV[4]  a placeholder that is never a job id (it holds a colon), written over each dead id
--          and then removed: the ids around it keep their order
--
-- Returns {ids looked at, ids dropped}. The placeholders of one call are all removed in that call
-- (the first ones from the head of the queue are this call's: earlier calls left none).
local start = tonumber(ARGV[2])
local ids = redis.call('LRANGE', KEYS[1], start, start + tonumber(ARGV[3]) - 1)
local dropped = 0
for offset, job_id in ipairs(ids) do
    if redis.call('EXISTS', ARGV[1] .. job_id) == 0 then
        redis.call('LSET', KEYS[1], start + offset - 1, ARGV[4])
        dropped = dropped + 1
    end
end
if dropped > 0 then
    redis.call('LREM', KEYS[1], dropped, ARGV[4])
end
return {#ids, dropped}
