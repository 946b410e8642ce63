"""The site's cron configuration, loaded by ``manage.py rqcron rqsite/cron_config.py``: an interval job
(enqueued as soon as the scheduler starts) and a daily cron job."""

from rq import cron
from rqsite.jobs import add, mark

cron.register(mark, queue_name='default', args=('cron-runs',), interval=600)
cron.register(add, queue_name='high', args=(1, 2), cron='0 9 * * *')
