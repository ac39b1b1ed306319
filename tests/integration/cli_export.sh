#!/bin/bash
# Export details: CSV quoting (commas, quotes, newlines), formula cells
# defused, one row per act, 0600 files; every --json output parses as JSON;
# a bad configuration makes `node start` fail with a pointer to node.log.
source "$(dirname "$0")/lib.sh"

node_init
printf '[node]\nlog_level = chatty\n' > "$TEJIDO_DATA/tejido.conf"
expect_rc 1 timeout 90 "$TEJIDO" node start
grep -q 'node.log' "$T/err" || fail "a node that cannot start does not point at node.log"
rm "$TEJIDO_DATA/tejido.conf"
node_start

expect_rc 0 tj add --date 2025-04-02 --state 07 --municipality 07078 --place-type public_road \
	--victim 'ref=e-1,unit=individual,role=journalist,gender=woman,age_band=18_29' \
	--victim 'ref=e-2,unit=individual,role=journalist,gender=man,age_band=30_44' \
	--aggressor 'category=state,type=state_police,level=state,involvement=direct' \
	--act physical_assault:0:0 --act physical_assault:1:0 --act theft_equipment_data:1:- \
	--protection none --source witness_testimony --reliability usually_reliable --verification confirmed \
	--victim-name '=HYPERLINK("http://example.invalid")' --victim-name 'Luz "la Güera" Inventada' \
	--narrative "$(printf 'Primera línea, con coma.\nSegunda línea "citada".')" --consent network_statistics
id=$(cut -d' ' -f1 "$T/out")

expect_rc 0 tj export --format csv --out "$T/s.csv"
[ "$(stat -c %a "$T/s.csv")" = 600 ] || fail "CSV mode"
[ "$(grep -c "^$id," "$T/s.csv")" = 3 ] || fail "CSV: one row per act (3)"
grep -q "^$id,.*,2,theft_equipment_data,1,e-2," "$T/s.csv" || fail "CSV: the third act's row"
grep -q 'HYPERLINK\|Inventada\|Primera' "$T/s.csv" && fail "CSV without --include-case holds case text"

expect_rc 0 tj export --format csv --include-case --out "$T/c.csv"
grep -q "'=HYPERLINK" "$T/c.csv" || fail "CSV: a formula cell is not defused"
grep -q '"Luz ""la Güera"" Inventada' "$T/c.csv" || grep -q '""la Güera""' "$T/c.csv" || fail "CSV: quotes not doubled"
grep -q '^Segunda línea ""citada"".",' "$T/c.csv" && fail "CSV: the narrative is not the last column"
grep -q '^Segunda línea ""citada""."' "$T/c.csv" || fail "CSV: a newline inside a quoted cell"
head -1 "$T/c.csv" | grep -q ',case_status,victim_names,contacts,exact_place,consent,narrative' || fail "CSV: case header"

# Every JSON output parses (node is in the Debian dependencies; skip that part without it).
if command -v node >/dev/null; then
	check_json() { node -e 'JSON.parse(require("fs").readFileSync(0, "utf8"))' || fail "not JSON: $*"; }
	tj list --json | check_json list
	tj show --json "$id" | check_json show
	tj export --format json | check_json export
	tj export --format json --include-case 2>/dev/null | check_json export --include-case
	tj vocab --json | check_json vocab
	tj vocab act_type --json | check_json vocab act_type
	tj vocab municipality 20 --json | check_json vocab municipality
	tj node status --json | check_json status
	tj id --json | check_json id
	gen_incident 5 | tj add --json - --json-out | check_json add
	node -e '
		const x = JSON.parse(require("fs").readFileSync(0, "utf8"));
		const c = x.case || {};
		if (!String(c.narrative).includes("Segunda línea \"citada\".")) process.exit(1);
		if (x.acts.length !== 3) process.exit(2);
	' < <(tj show --json "$id") || fail "show --json: the case or the acts differ from the input"
fi
expect_rc 0 tj vocab municipality 20
grep -q '20067  Oaxaca de Juárez' "$T/out" || fail "vocab municipality 20"
echo "export: ok"
