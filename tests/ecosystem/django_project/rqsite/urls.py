"""The site's URLs: the admin (django-rq's dashboard registers itself there) and django-rq's
standalone URLs under ``django-rq/``."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path('admin/', admin.site.urls),
    path('django-rq/', include('django_rq.urls')),
]
