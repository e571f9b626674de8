"""Indexes for reconciliation's per-CDR look-ups (reconciliation.suspects): other CDRs of the
CPO with the same start or the same session id, and the CPO's credit CDRs."""

import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('hub', '0020_correlation_ids'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='cdr',
            index=models.Index(fields=['country_code', 'party_id', 'start_date_time'], name='cdr_start'),
        ),
        migrations.AddIndex(
            model_name='cdr',
            index=models.Index(models.F('country_code'), models.F('party_id'), django.db.models.functions.text.Upper('session_id'), name='cdr_session'),
        ),
        migrations.AddIndex(
            model_name='cdr',
            index=models.Index(condition=models.Q(('credit', True)), fields=['country_code', 'party_id'], name='cdr_credits'),
        ),
    ]
