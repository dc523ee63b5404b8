# The outbox's table takes the name of the app that owns it, and its content type (admin
# history, permissions) follows it.

from django.db import migrations


def move_content_type(apps, schema_editor, old="campaigns", new="members"):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label=new, model="message").exists():
        ContentType.objects.filter(app_label=old, model="message").update(app_label=new)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, old="members", new="campaigns")


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0008_message_from_campaigns"),
        ("campaigns", "0004_message_to_members"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelTable(name="message", table=None),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
