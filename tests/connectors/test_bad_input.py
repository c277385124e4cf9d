"""Bad input: each case ends in a one-line error with nothing loaded, or a complete load where
stored + quarantined (+ duplicates) = read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cxlens.errors import CxlensError, InputError
from cxlens.ingest import ingest

FIX = Path(__file__).parent.parent / "fixtures" / "connectors"
HEADER = "客户编号,姓名,手机,邮箱,注册时间,等级,城市\n"
ROWS = ["C001,张三,13800138000,a@example.com,2023/01/05 10:00,1,上海",
        "C002,李四,13900139000,b@example.com,2023/02/06 11:30,2,北京"]


def nothing_loaded(ws) -> bool:
    counts = ws.warehouse.counts()
    return all(counts[t] == 0 for t in ("parties", "interactions", "identifiers", "quarantine"))


def reconciles(result) -> bool:
    return result.read == result.stored + result.quarantined + result.duplicates


@pytest.fixture
def ws(make_workspace):
    return make_workspace()


def crm(tmp_path: Path, body: str | bytes, name: str = "crm.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


def load(ws, path, **kw):
    return ingest(ws, path, "mapped", mapping=FIX / "crm.yaml", **kw)


def test_gb18030_without_encoding_names_it_and_loads_nothing(ws, tmp_path):
    path = crm(tmp_path, (HEADER + "\n".join(ROWS) + "\n").encode("gb18030"))
    with pytest.raises(InputError) as info:
        load(ws, path)
    assert "--encoding gb18030" in str(info.value)
    assert "\n" not in str(info.value)
    assert nothing_loaded(ws)


def test_gb18030_with_encoding_loads(ws, tmp_path):
    path = crm(tmp_path, (HEADER + "\n".join(ROWS) + "\n").encode("gb18030"))
    result = load(ws, path, encoding="gb18030")
    assert (result.read, result.stored) == (2, 2)
    names = set(ws.warehouse.table("parties").to_pyarrow().column("name").to_pylist())
    assert names == {"张三", "李四"}


def test_gbk_asterisk_without_encoding(ws, tmp_path):
    line = '"","13800138000","8001","from-trunk","""张三"" <13800138000>","SIP/t-1","SIP/1001-2",' \
           '"Queue","q,t","2024-03-01 09:00:00","2024-03-01 09:00:12","2024-03-01 09:05:12",' \
           '312,300,"ANSWERED","DOCUMENTATION","1.1",""\n'
    path = tmp_path / "Master.csv"
    path.write_bytes(line.encode("gbk"))
    with pytest.raises(InputError, match="encoding gb18030"):
        ingest(ws, path, "asterisk")
    assert nothing_loaded(ws)
    result = ingest(ws, path, "asterisk", encoding="gbk")
    assert result.stored == 1
    assert ws.warehouse.table("interactions").to_pyarrow().column("contact_name")[0].as_py() == "张三"


def test_utf8_bom_and_crlf(ws, tmp_path):
    path = crm(tmp_path, ("\ufeff" + HEADER + "\r\n".join(ROWS) + "\r\n").replace("\n", "\r\n")
               .replace("\r\r\n", "\r\n"))
    result = load(ws, path)
    assert (result.read, result.stored, result.quarantined) == (2, 2, 0)
    cities = set(ws.warehouse.table("parties").to_pyarrow().column("city").to_pylist())
    assert cities == {"上海", "北京"}  # no stray \r


def test_missing_required_column_names_it(ws, tmp_path):
    path = crm(tmp_path, "客户编号,姓名,邮箱,注册时间,等级,城市\nC1,x,a@b.co,2023/01/01 00:00,1,q\n")
    with pytest.raises(InputError, match="手机"):
        load(ws, path)
    assert nothing_loaded(ws)


def test_extra_columns_are_ignored(ws, tmp_path):
    path = crm(tmp_path, HEADER.strip() + ",备注,积分\n" + ROWS[0] + ",vip,100\n")
    result = load(ws, path)
    assert (result.read, result.stored) == (1, 1)
    assert "备注" not in ws.warehouse.table("parties").columns


def test_mixed_date_formats(ws, tmp_path):
    dates = ["2023/01/05 10:00", "2023-01-05 10:00:00", "2023-01-05T10:00:00+08:00",
             "2023年1月5日 10:00", "1672884000", "05/01/2023 10:00:00", "yesterday"]
    body = HEADER + "".join(f"C{i},n,1380013800{i},x{i}@e.com,{d},1,c\n"
                            for i, d in enumerate(dates))
    result = load(ws, crm(tmp_path, body))
    assert (result.read, result.stored, result.quarantined) == (7, 6, 1)
    assert result.quarantine_reasons == {"created_at: unparseable time": 1}
    times = set(ws.warehouse.table("parties").to_pyarrow().column("created_at").to_pylist())
    assert {str(t) for t in times} == {"2023-01-05 02:00:00"}


def test_ten_megabyte_field(ws, tmp_path):
    big = "长" * (10 * 1024 * 1024 // 3 + 1)
    body = HEADER + f"C1,{big},13800138000,a@e.com,2023/01/05 10:00,1,c\n" + ROWS[1] + "\n"
    result = load(ws, crm(tmp_path, body))
    assert (result.read, result.stored) == (2, 2)
    names = ws.warehouse.table("parties").to_pyarrow().column("name").to_pylist()
    assert max(len(n) for n in names) == len(big)


def test_binary_garbage(ws, tmp_path):
    path = tmp_path / "garbage.csv"
    path.write_bytes(os.urandom(4096) + b"\x00" * 64)
    for fmt, kw in (("asterisk", {}), ("mapped", {"mapping": FIX / "crm.yaml"}),
                    ("amazon-connect", {})):
        with pytest.raises(CxlensError) as info:
            ingest(ws, path, fmt, **kw)
        assert "\n" not in str(info.value)
    assert nothing_loaded(ws)


def test_empty_file(ws, tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    for fmt, kw in (("asterisk", {}), ("mapped", {"mapping": FIX / "crm.yaml"}),
                    ("amazon-connect", {}), ("zendesk", {})):
        result = ingest(ws, path, fmt, source=f"s-{fmt}", **kw)
        assert (result.read, result.stored, result.quarantined) == (0, 0, 0)
    assert nothing_loaded(ws)


def test_same_file_twice_adds_nothing(ws):
    first = load(ws, FIX / "crm.csv")
    before = ws.warehouse.counts()
    second = load(ws, FIX / "crm.csv")
    assert first.status == "loaded" and second.status == "already ingested"
    assert "nothing added" in second.message
    assert ws.warehouse.counts() == before


def test_truncated_json_lines(ws, tmp_path):
    lines = (FIX / "amazon_connect_ctr.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "ctr.jsonl"
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2],
                    encoding="utf-8")
    result = ingest(ws, path, "amazon-connect")
    assert reconciles(result)
    assert (result.read, result.quarantined) == (4, 1)
    assert next(iter(result.quarantine_reasons)).startswith("invalid JSON")


def test_truncated_json_document(ws, tmp_path):
    text = (FIX / "zendesk_tickets.json").read_text(encoding="utf-8")
    path = tmp_path / "tickets.json"
    path.write_text(text[: text.index('"id":35437') + 40], encoding="utf-8")
    result = ingest(ws, path, "zendesk")
    assert reconciles(result)
    assert (result.read, result.stored, result.quarantined) == (2, 1, 1)
    assert result.quarantine_reasons == {"truncated JSON": 1}


def test_json_array_with_one_corrupt_element(ws, tmp_path):
    records = [json.loads(line) for line in
               (FIX / "amazon_connect_ctr.jsonl").read_text(encoding="utf-8").splitlines()]
    parts = [json.dumps(r) for r in records]
    parts[0] = parts[0].replace('"Channel": "VOICE"', '"Channel": VOICE')  # not JSON
    path = tmp_path / "ctr.json"
    path.write_text("[" + ",\n".join(parts) + "]", encoding="utf-8")
    result = ingest(ws, path, "amazon-connect")
    assert reconciles(result)
    assert (result.read, result.quarantined) == (4, 1)
    assert result.stored == 2  # the two versions of contact 2 collapse to one


def test_wrong_shape_records_are_quarantined(ws, tmp_path):
    path = tmp_path / "ctr.jsonl"
    path.write_text('{"ContactId": "a", "InitiationTimestamp": "2024-03-01T00:00:00Z"}\n'
                    '{"ContactId": 5, "Agent": "nobody", "InitiationTimestamp": "2024"}\n'
                    '[1, 2]\n"text"\n{"ContactId": "b", "InitiationTimestamp": "not a time"}\n',
                    encoding="utf-8")
    result = ingest(ws, path, "amazon-connect")
    assert reconciles(result)
    assert result.read == 6 and result.stored == 1


def test_impossible_call_values(ws, tmp_path):
    base = ['""', '"13800138000"', '"8001"', '"from-trunk"', '""', '"SIP/t-1"', '"SIP/1001-2"',
            '"Queue"', '"q"']
    def line(uid, start, answer, end, duration, billsec):
        return ",".join(base + [f'"{start}"', f'"{answer}"', f'"{end}"', str(duration),
                                str(billsec), '"ANSWERED"', '"DOCUMENTATION"', f'"{uid}"', '""'])
    body = "\n".join([
        line("ok", "2024-03-01 09:00:00", "2024-03-01 09:00:10", "2024-03-01 09:01:00", 60, 50),
        line("neg", "2024-03-01 09:00:00", "", "2024-03-01 09:01:00", -5, 0),
        line("back", "2024-03-01 09:00:00", "", "2024-03-01 08:00:00", 60, 0),
        line("long", "2024-03-01 09:00:00", "", "2024-03-03 09:00:00", 172800, 172000),
        line("bill", "2024-03-01 09:00:00", "", "2024-03-01 09:01:00", 60, 600),
        line("date", "someday", "", "2024-03-01 09:01:00", 60, 0),
    ]) + "\n"
    path = tmp_path / "Master.csv"
    path.write_text(body, encoding="utf-8")
    result = ingest(ws, path, "asterisk")
    assert reconciles(result) and result.stored == 1
    assert result.quarantine_reasons == {
        "negative duration": 1, "end before start": 1, "call longer than 24 h": 1,
        "billsec longer than duration": 1, "unparseable start time": 1}


def test_duplicate_rows_keep_the_last(ws, tmp_path):
    path = crm(tmp_path, HEADER + ROWS[0] + "\n" + ROWS[0].replace("上海", "杭州") + "\n")
    result = load(ws, path)
    assert (result.read, result.stored, result.duplicates) == (2, 1, 1)
    assert ws.warehouse.table("parties").to_pyarrow().column("city").to_pylist() == ["杭州"]


def test_failed_ingest_is_logged_and_leaves_nothing(ws, tmp_path):
    path = crm(tmp_path, (HEADER + ROWS[0] + "\n").encode("gb18030"))
    with pytest.raises(InputError):
        load(ws, path)
    log = ws.warehouse.table("ingest_log").to_pyarrow().to_pylist()
    assert [r["status"] for r in log] == ["failed"]
    assert nothing_loaded(ws)


def test_unknown_format_and_missing_mapping(ws):
    with pytest.raises(CxlensError, match="unknown format"):
        ingest(ws, FIX / "crm.csv", "excel")
    with pytest.raises(InputError, match="--mapping"):
        ingest(ws, FIX / "crm.csv", "mapped")
    with pytest.raises(InputError, match="does not exist"):
        ingest(ws, FIX / "nope.csv", "asterisk")
