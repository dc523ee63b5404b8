#!/usr/bin/env bash
# Restore a backup made by deploy/backup.sh: its database dump into the database URL given and its
# media tar into the media directory given. docs/deploy.md has the drill and the real thing.
#
#   deploy/restore.sh [--force] BACKUP_FOLDER DATABASE_URL MEDIA_DIR
#   deploy/restore.sh /var/backups/loyalty/2026-11-29T031500Z postgres:///loyalty_drill /tmp/drill-media
#
# BACKUP_FOLDER is one dated folder (db.dump, media.tar.gz, SHA256SUMS). The database must exist
# (createdb) and be empty, and the media directory must be empty or missing: anything else is
# refused before a thing is changed, unless --force is given, which replaces what the database
# holds by the backup (pg_restore --clean) and unpacks the files over the directory.
# The restore is one transaction: it succeeds whole or leaves the database as it was.
set -euo pipefail

die() {
  echo "restore: $*" >&2
  exit 1
}
usage() {
  echo "usage: $0 [--force] BACKUP_FOLDER DATABASE_URL MEDIA_DIR" >&2
  exit 2
}

force=""
args=()
for arg in "$@"; do
  case $arg in
    --force) force=1 ;;
    -h | --help) usage ;;
    -*) die "unknown option $arg" ;;
    *) args+=("$arg") ;;
  esac
done
[ ${#args[@]} -eq 3 ] || usage
folder=${args[0]}
media=${args[2]}
case ${args[1]} in
  postgres://* | postgresql://*) url=${args[1]} ;;
  pgsql://* | psql://*) url="postgresql://${args[1]#*://}" ;;
  *) die "DATABASE_URL must be a PostgreSQL URL (postgres://user@host:5432/name)" ;;
esac

dump="$folder/db.dump"
tarball="$folder/media.tar.gz"
[ -f "$dump" ] || die "$dump not found: give one dated folder made by deploy/backup.sh"
if [ -f "$folder/SHA256SUMS" ]; then
  (cd "$folder" && sha256sum --check --quiet SHA256SUMS) || die "$folder does not match its SHA256SUMS"
fi
pg_restore --list "$dump" >/dev/null || die "$dump is not a pg_dump archive"

psql_() { psql --no-psqlrc --quiet --tuples-only --no-align --set ON_ERROR_STOP=1 --dbname="$url" "$@"; }

# Tables and sequences of the database's own, outside PostgreSQL's schemas and extensions.
tables=$(psql_ --command "
  SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'S', 'v', 'm')
    AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
    AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')")
if [ "$tables" -gt 0 ] && [ -z "$force" ]; then
  die "the database is not empty ($tables tables and sequences): restore into a new one (createdb)," \
    "or give --force to replace its contents with the backup"
fi
if [ -f "$tarball" ] && [ -d "$media" ] && [ -n "$(ls -A -- "$media")" ] && [ -z "$force" ]; then
  die "$media is not empty: give an empty or new directory, or --force to unpack over it"
fi

clean=()
[ -z "$force" ] || clean=(--clean --if-exists)
pg_restore --no-owner --no-privileges --exit-on-error --single-transaction "${clean[@]}" \
  --dbname="$url" "$dump"
# A dump carries no planner statistics: without them the first queries on big tables are slow.
psql_ --command "ANALYZE" >/dev/null

if [ -f "$tarball" ]; then
  mkdir -p -- "$media"
  tar --extract --gzip --file="$tarball" --directory="$media" --no-same-owner
  echo "restore: the database and the uploaded files of $folder are back"
else
  echo "restore: the database of $folder is back (the backup has no media tar: MEDIA_STORAGE=s3)"
fi
echo "restore: check it with: DATABASE_URL=... python manage.py ledger_verify"
