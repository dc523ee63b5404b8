#!/usr/bin/env bash
# Back up the portal: the database (pg_dump -Fc of DATABASE_URL) and the uploaded files (a tar of
# MEDIA_ROOT) into a new dated folder under the directory given, then keep the newest BACKUP_KEEP
# folders (14 unless set). deploy/restore.sh puts a folder back; docs/deploy.md has the drill.
#
#   deploy/backup.sh /var/backups/loyalty
#
# It reads the environment the portal reads (deploy/loyalty-backup.service loads the same file):
#   DATABASE_URL   required: postgres://, postgresql://, pgsql:// or psql://
#   MEDIA_ROOT     the uploaded files (default: media/ of this checkout, as in the settings)
#   MEDIA_STORAGE  "s3": the files live in the bucket and no media tar is made
#   BACKUP_KEEP    how many dated folders to keep, this one included (default 14)
#
# A folder is named by its UTC time (2026-11-29T031500Z) and holds db.dump, media.tar.gz and
# SHA256SUMS. It is written as .incomplete-<name> and renamed when complete, so a failed run never
# counts as a backup, and only then are the oldest folders removed.
set -euo pipefail

die() {
  echo "backup: $*" >&2
  exit 1
}

if [ $# -ne 1 ] || [ "${1:0:1}" = "-" ]; then
  echo "usage: $0 BACKUP_DIR" >&2
  exit 2
fi
dest=$1
keep=${BACKUP_KEEP:-14}
[[ $keep =~ ^[1-9][0-9]*$ ]] || die "BACKUP_KEEP must be a whole number of at least 1, not '$keep'"
[ -n "${DATABASE_URL:-}" ] || die "DATABASE_URL is not set"
case $DATABASE_URL in
  postgres://* | postgresql://*) url=$DATABASE_URL ;;
  pgsql://* | psql://*) url="postgresql://${DATABASE_URL#*://}" ;;
  *) die "DATABASE_URL is not a PostgreSQL database; this script backs up PostgreSQL only" ;;
esac
checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
media=${MEDIA_ROOT:-$checkout/media}
storage=${MEDIA_STORAGE:-file}

# Backups hold personal data: readable by their owner only.
umask 077
mkdir -p -- "$dest"
exec 9>"$dest/.lock"
flock --nonblock 9 || die "another backup into $dest is running"
# Left by a run that was killed (the lock says none is running now).
find "$dest" -mindepth 1 -maxdepth 1 -type d -name '.incomplete-*' -exec rm -rf -- {} +

name=$(date -u +%Y-%m-%dT%H%M%SZ)
[ ! -e "$dest/$name" ] || die "$dest/$name exists already"
work="$dest/.incomplete-$name"
trap 'rm -rf -- "$work"' EXIT
mkdir -- "$work"

# The database first: a file uploaded during the backup is then in the tar, never named by a
# database row the dump does not have.
pg_dump --format=custom --file="$work/db.dump" --dbname="$url"

if [ "$storage" = "s3" ]; then
  echo "backup: MEDIA_STORAGE=s3: the uploaded files are in the bucket, not copied here" >&2
elif [ -d "$media" ]; then
  status=0
  tar --create --gzip --file="$work/media.tar.gz" --directory="$media" . || status=$?
  # 1: a file changed while it was read (an upload during the backup); the archive is usable.
  [ "$status" -le 1 ] || die "the tar of $media failed (exit status $status)"
else
  die "MEDIA_ROOT $media is not a directory (set MEDIA_ROOT, or MEDIA_STORAGE=s3)"
fi

files=(db.dump)
[ ! -e "$work/media.tar.gz" ] || files+=(media.tar.gz)
(cd "$work" && sha256sum -- "${files[@]}" >SHA256SUMS)
mv -- "$work" "$dest/$name"

# Keep the newest $keep dated folders; nothing else in the directory is touched.
mapfile -t folders < <(
  find "$dest" -mindepth 1 -maxdepth 1 -type d \
    -name '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z' -printf '%f\n' |
    LC_ALL=C sort
)
for ((i = 0; i < ${#folders[@]} - keep; i++)); do
  rm -rf -- "${dest:?}/${folders[i]}"
done

echo "backup: $dest/$name ($(du -sh -- "$dest/$name" | cut -f1)), keeping the newest $keep"
