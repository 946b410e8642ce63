"""Django settings of the test site: every django-rq queue lives on the suite's Redis, whose port
comes from ``RQ_TEST_REDIS_PORT``."""

import os

SECRET_KEY = 'django-rq-on-our-rq'
DEBUG = False
ALLOWED_HOSTS = ['*']
USE_TZ = True
TIME_ZONE = 'UTC'

INSTALLED_APPS = [
    'django.contrib.admin',
    'django.contrib.auth',
    'django.contrib.contenttypes',
    'django.contrib.sessions',
    'django.contrib.messages',
    'django.contrib.staticfiles',
    'django_rq',
]

MIDDLEWARE = [
    'django.contrib.sessions.middleware.SessionMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.csrf.CsrfViewMiddleware',
    'django.contrib.auth.middleware.AuthenticationMiddleware',
    'django.contrib.messages.middleware.MessageMiddleware',
]

ROOT_URLCONF = 'rqsite.urls'

TEMPLATES = [
    {
        'BACKEND': 'django.template.backends.django.DjangoTemplates',
        'APP_DIRS': True,
        'OPTIONS': {
            'context_processors': [
                'django.template.context_processors.request',
                'django.contrib.auth.context_processors.auth',
                'django.contrib.messages.context_processors.messages',
            ]
        },
    }
]

DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': ':memory:'}}
DEFAULT_AUTO_FIELD = 'django.db.models.AutoField'
STATIC_URL = '/static/'

REDIS_PORT = int(os.environ.get('RQ_TEST_REDIS_PORT', '6379'))
_REDIS = {'HOST': '127.0.0.1', 'PORT': REDIS_PORT, 'DB': 0}

# Sorted by name, django-rq numbers them: default 0, high 1, json 2, low 3, sync 4.
RQ_QUEUES = {
    'default': {**_REDIS, 'DEFAULT_TIMEOUT': 360},
    'high': {**_REDIS, 'DEFAULT_TIMEOUT': 500, 'DEFAULT_RESULT_TTL': 800},
    'json': {**_REDIS, 'SERIALIZER': 'rq.serializers.JSONSerializer'},
    'low': {**_REDIS},
    'sync': {**_REDIS, 'ASYNC': False},
}

# Enqueue at once: the tests look at Redis right after enqueueing, inside pytest-django's transactions.
RQ = {'COMMIT_MODE': 'auto', 'DEFAULT_RESULT_TTL': 5000}
RQ_API_TOKEN = 'statstoken'
RQ_EXCEPTION_HANDLERS = ['rqsite.custom.record_failure']

LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'rq_console': {'level': 'DEBUG', 'class': 'rq.logutils.ColorizingStreamHandler'}},
    'loggers': {'rq.worker': {'handlers': ['rq_console'], 'level': 'DEBUG'}},
}
