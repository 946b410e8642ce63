"""``python -m rq.cli`` runs the ``rq`` command."""

from rq.cli import main

if __name__ == '__main__':
    main()
