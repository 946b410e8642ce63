-- release_dependents.lua: queue the deferred dependents of a job whose dependencies are now all
-- met, each on its own queue (at the front when its enqueue_at_front is '1'). Safe to run any
-- number of times and from inside a MULTI: it reads everything it decides on itself.
--
-- A dependency is met when its job is gone, finished, or failed while the dependent allows
-- failures (allow_dependency_failures '1'); ARGV[3] '1' also counts the parent as met whatever its
-- status (cancel with enqueue_dependents). Dependents that are no longer deferred (gone, canceled,
-- already released) are dropped from the parent's set.
--
-- KEYS[1]  rq:job:<parent>:dependents
-- KEYS[2]  rq:queues
-- ARGV[1]  parent id
-- ARGV[2]  enqueued_at timestamp for released jobs
-- ARGV[3]  '1' to count the parent as met
-- ARGV[4]  'rq:job:'       } prefixes of the dependents' keys, which are only known once the set
-- ARGV[5]  'rq:deferred:'  } is read (they come from rq._redis.keys): rq:job:<id>,
-- ARGV[6]  'rq:queue:'     } rq:job::<id>:dependencies, rq:deferred:<origin>, rq:queue:<origin>
-- ARGV[7]  now (float seconds): the score of a rate-limited dependent's wait and slot
-- ARGV[8 .. 11]  the rate-limit context (see lib_rate_limit)
--
-- Returns the number of jobs released (queued, or waiting for a rate-limit slot).

-- @include lib_release

return release_dependents(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7],
    {ARGV[8], ARGV[9], ARGV[10], ARGV[11]})
