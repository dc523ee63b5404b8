# The members list sorted by last visit (never-seen members last: an index PostgreSQL needs and
# SQLite does not), newest or name, from an index;
# and on PostgreSQL, trigram indexes so searching by part of a name, address or phone (the
# members list, the counter) does not scan every member. SQLite has no trigram index and scans.

from django.db import migrations, models

# icontains compares UPPER(column) LIKE UPPER(pattern): the indexes hold the same expression.
TRIGRAM = {
    "member_name_trgm": "name",
    "member_email_trgm": "email",
    "member_phone_trgm": "phone",
}


def trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS member_shop_last_visit_first ON members_member "
        "(shop_id, last_visit_at DESC NULLS LAST, joined_at DESC)"
    )
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in TRIGRAM.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS {name} ON members_member USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in [*TRIGRAM, "member_shop_last_visit_first"]:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0009_message_table'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='member',
            index=models.Index(fields=['shop', '-joined_at'], name='member_shop_joined'),
        ),
        migrations.AddIndex(
            model_name='member',
            index=models.Index(fields=['shop', 'name'], name='member_shop_name'),
        ),
        migrations.RunPython(trigram_indexes, drop_trigram_indexes),
    ]
