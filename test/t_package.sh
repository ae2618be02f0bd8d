#!/usr/bin/env bash
# The packaging: META.json (PGXN) and debian/changelog agree with
# stedi.control, and the Debian package built from a copy of this tree holds
# the extension and the client programs, installs, and creates the extension
# at the control file's version.
source "$(dirname "$0")/lib.sh"

# Installing the package puts its files where `make install` put the tree's.
# The other tests use those (they run in name order; this one is not last),
# so at the end the package is removed again and the tree's `make install`
# puts them back: restore_make_install [quietly]
restored=yes
restore_make_install()
{
    [ "$restored" = no ] || return 0
    restored=yes
    local rc=0 what="the tree's make install put back"
    if [ "$installed_before" != installed ]; then
        dpkg -r "$package" >"$tmp/restore.log" 2>&1 || rc=1
        what="the package removed, $what"
    fi
    make -C "$top" -s PG_CONFIG="$PG_CONFIG" install >>"$tmp/restore.log" 2>&1 || rc=1
    [ -n "${1:-}" ] || ok "$rc" "$what"
    [ "$rc" -eq 0 ] || sed 's/^/# /' "$tmp/restore.log"
}

tmp=$(mktemp -d)
trap 'restore_make_install quietly; rm -rf "$tmp"' EXIT

# control_value KEY: a setting of stedi.control, without its quotes
control_value()
{
    sed -nE "s/^$1[[:space:]]*=[[:space:]]*'?([^']*)'?[[:space:]]*$/\1/p" "$top/stedi.control"
}
extension=stedi
version=$(control_value default_version)

# meta PATH: the value at a dotted PATH of META.json ("" when absent),
# strings as they are, anything else as JSON
meta()
{
    node -e '
        let v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
        for (const k of process.argv[2].split("."))
            v = (v === null || typeof v !== "object") ? undefined : v[k];
        if (v !== undefined)
            process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
    ' "$top/META.json" "$1" 2>/dev/null
}

# -- META.json

node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$top/META.json" 2>"$tmp/err"
ok $? "META.json is JSON"
grep -m1 Error "$tmp/err" | sed 's/^/# /'
missing=
for key in name version abstract maintainer license provides meta-spec; do
    [ -n "$(meta "$key")" ] || missing="$missing $key"
done
is "$missing" "" "META.json has the keys PGXN requires"
is "$(meta meta-spec.version)" 1.0.0 "META.json follows meta-spec 1.0.0"
is "$(meta name)" "$extension" "its name is the extension's"
is "$(meta version)" "$version" "its version is stedi.control's default_version"
is "$(meta provides.$extension.version)" "$version" "it provides the extension at that version"
file=$(meta provides.$extension.file)
ok $([ -n "$file" ] && [ -f "$top/$file" ]; echo $?) "the file it names for the extension is there ($file)"
is "$(meta provides.$extension.abstract)" "$(control_value comment)" "the extension's abstract is stedi.control's comment"
is "$(meta license)" postgresql "its license is the PostgreSQL License"
ok $(grep -q '^PostgreSQL License' "$top/LICENSE"; echo $?) "and LICENSE holds that license"
is "$(grep -v '^#' "$top/debian/pgversions")" 15 "debian/pgversions builds for PostgreSQL 15 alone"
is "$(meta prereqs.runtime.requires.PostgreSQL)" ">= 15.0.0, < 16.0.0" "and META.json needs PostgreSQL 15, no other major version"
changelog=$(sed -nE '1s/^[^ ]+ \(([^)]*)\).*/\1/p' "$top/debian/changelog")
is "${changelog%-*}" "$version" "debian/changelog's latest entry packages that version ($changelog)"

# -- the Debian package

if [ "$(id -u)" -ne 0 ]; then
    skip "the Debian package: building and installing it needs root (dpkg -i)"
    exit 0
fi

# Built from a copy of the files git knows of (tracked, or new and not
# ignored), so that no build output of the checkout gets in and the build
# leaves nothing in the checkout.
if ! copy_tree "$tmp/stedi"; then
    skip "the Debian package: it is built from the files git knows of, and this is no git checkout"
    exit 0
fi
before=$(cd "$top" && git status --porcelain --ignored | sort)

start=$SECONDS
(cd "$tmp/stedi" && DEB_BUILD_OPTIONS=noddebs dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1
rc=$?
is "$rc" 0 "dpkg-buildpackage -us -uc -b ($((SECONDS - start)) s)"
[ "$rc" -eq 0 ] || tail -40 "$tmp/build.log" | sed 's/^/# /'
is "$(cd "$top" && git status --porcelain --ignored | sort)" "$before" "the checkout is as it was"

major=$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')
package=postgresql-$major-$extension
deb=$tmp/${package}_${changelog}_$(dpkg --print-architecture).deb
ok $([ -f "$deb" ]; echo $?) "it made $(basename "$deb")"
[ -f "$deb" ] || exit 1
dpkg-deb -c "$deb" 2>/dev/null | awk '{ print $NF }' | sed 's|^\./|/|' >"$tmp/contents"
bindir=$("$PG_CONFIG" --bindir)
libdir=$("$PG_CONFIG" --pkglibdir)
extdir=$("$PG_CONFIG" --sharedir)/extension
for f in "$libdir/$extension.so" "$extdir/$extension.control" "$extdir/$extension--$version.sql" \
    "$bindir/stedi-load" "$bindir/stedi-gen" "$bindir/stedi-export"; do
    ok $(grep -qxF "$f" "$tmp/contents"; echo $?) "the package holds $f"
done
# the README, and every page of docs/ it links to, where its links lead
docdir=/usr/share/doc/$package
links=$(grep -o '(docs/[a-z_-]*\.md' "$top/README.md" | sed 's/^(//' | sort -u)
missing=$(for f in README.md $links; do grep -qxF "$docdir/$f" "$tmp/contents" || echo "$f"; done)
is "$missing" "" "the package holds the README and the $(echo "$links" | wc -l) pages of docs/ it links to, uncompressed"
echo "# $(grep -c '[^/]$' "$tmp/contents") files, $(stat -c %s "$deb") bytes"

installed_before=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)
restored=no
dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1
ok $? "dpkg -i $(basename "$deb")"
[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" = installed ] ||
    sed 's/^/# /' "$tmp/dpkg.log"
is "$(dpkg -S "$bindir/stedi-load" 2>/dev/null | cut -d: -f1)" "$package" "stedi-load comes from the package"

fresh_db stedi_package 2>"$tmp/err"
ok $? "CREATE EXTENSION $extension from the package"
sed 's/^/# /' "$tmp/err"
is "$(q stedi_package "SELECT extversion FROM pg_extension WHERE extname = '$extension'")" "$version" \
    "at stedi.control's default_version"
dropdb stedi_package

out=$("$bindir/stedi-load" --version 2>&1)
is "$?:$out" "0:stedi-load (stedi) $version" "the package's stedi-load --version"
"$bindir/stedi-gen" --help >"$tmp/gen.out" 2>&1
rc=$?
ok $([ "$rc" -eq 0 ] && grep -q '^Usage:' "$tmp/gen.out"; echo $?) "the package's stedi-gen --help"
out=$("$bindir/stedi-export" --version 2>&1)
is "$?:$out" "0:stedi-export (stedi) $version" "the package's stedi-export --version"

restore_make_install
