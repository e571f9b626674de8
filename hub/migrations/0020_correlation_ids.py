"""Correlation ids on sessions and CDRs (the write that stored them), and indexes on the
correlation ids the admin's correlation page looks up (deliveries, commands, sessions, CDRs)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('hub', '0019_heartbeat'),
    ]

    operations = [
        migrations.AddField(
            model_name='cdr',
            name='correlation_id',
            field=models.CharField(blank=True, default='', max_length=255),
        ),
        migrations.AddField(
            model_name='session',
            name='correlation_id',
            field=models.CharField(blank=True, default='', max_length=255),
        ),
        migrations.AddIndex(
            model_name='asyncrequest',
            index=models.Index(fields=['correlation_id'], name='async_correlation'),
        ),
        migrations.AddIndex(
            model_name='cdr',
            index=models.Index(fields=['correlation_id'], name='cdr_correlation'),
        ),
        migrations.AddIndex(
            model_name='pushdelivery',
            index=models.Index(fields=['correlation_id'], name='delivery_correlation'),
        ),
        migrations.AddIndex(
            model_name='session',
            index=models.Index(fields=['correlation_id'], name='session_correlation'),
        ),
    ]
