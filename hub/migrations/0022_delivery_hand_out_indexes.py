"""Indexes for the outbox hand-out: a receiver's slots taken and its next waiting deliveries
are read as index ranges, not by scanning its whole PENDING backlog."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('hub', '0021_cdr_reconciliation_indexes'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='pushdelivery',
            index=models.Index(condition=models.Q(('locked_until__isnull', False)), fields=['receiver', 'locked_until'], name='delivery_slots'),
        ),
        migrations.AddIndex(
            model_name='pushdelivery',
            index=models.Index(condition=models.Q(('status', 'PENDING')), fields=['receiver', 'next_attempt_at', 'id'], name='delivery_waiting'),
        ),
    ]
