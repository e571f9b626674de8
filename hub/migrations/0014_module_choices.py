"""The `module` columns take ModuleID as choices (hub.modules): AlterField only, no data change.

The choices are spelled out here, not read from hub.modules, so that this migration keeps its
meaning when the module table grows (a later change to the choices is a later migration)."""

from django.db import migrations, models

MODULE_CHOICES = [
    (module, module)
    for module in (
        "cdrs",
        "chargingprofiles",
        "commands",
        "credentials",
        "hubclientinfo",
        "locations",
        "sessions",
        "tariffs",
        "tokens",
        "versions",
    )
]

# (model, max_length, extra field options): each model's `module` column as it was, with choices.
MODULE_FIELDS = (
    ("ocpiexchange", 64, {"blank": True, "default": ""}),
    ("proxiedurl", 64, {}),
    ("pushdelivery", 32, {}),
    ("syncstate", 32, {}),
)


class Migration(migrations.Migration):
    dependencies = [
        ("hub", "0013_staff_roles"),
    ]

    operations = [
        migrations.AlterField(
            model_name=model_name,
            name="module",
            field=models.CharField(max_length=max_length, choices=MODULE_CHOICES, **options),
        )
        for model_name, max_length, options in MODULE_FIELDS
    ]
