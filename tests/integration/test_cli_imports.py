"""The CLI imports only the module of the command it runs (start-up is paid on every run)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from publisher.cli import COMMAND_MODULES, _modules_for, build_parser
from publisher.gc_policy import GC_THRESHOLDS


def test_the_named_command_alone_is_registered_and_top_level_options_are_skipped() -> None:
    assert _modules_for(["send", "events.ndjson"]) == ["publisher.commands.send"]
    assert _modules_for(["--log-level", "warning", "dlq", "list"]) == ["publisher.commands.dlq"]
    assert _modules_for(["send", "run"]) == ["publisher.commands.send"]  # a file named run


def test_without_a_command_every_command_is_registered_for_help_and_errors() -> None:
    everything = list(COMMAND_MODULES.values())
    assert _modules_for([]) == everything
    assert _modules_for(["--help"]) == everything
    assert _modules_for(["sned"]) == everything
    help_text = build_parser([]).format_help()
    assert all(name in help_text for name in COMMAND_MODULES)


def run_probe(program: str) -> Any:
    """Run `program` in a fresh interpreter; the JSON value on its last stdout line."""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True, timeout=60
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_parsing_send_does_not_import_the_other_commands() -> None:
    probe = (
        "import json, sys\n"
        "from publisher.cli import build_parser\n"
        "build_parser(['send', 'x.ndjson']).parse_args(['send', 'x.ndjson'])\n"
        "print(json.dumps([m for m in sys.modules if m.startswith(('publisher.emulator',"
        " 'publisher.connect', 'publisher.daemon', 'publisher.commands.'))]))\n"
    )
    imported = run_probe(probe)
    assert "publisher.commands.send" in imported
    assert not [m for m in imported if m.startswith(("publisher.emulator", "publisher.connect"))]
    assert "publisher.daemon" not in imported


def test_send_exports_no_metrics_so_it_never_imports_the_prometheus_client() -> None:
    probe = (
        "import json, sys\n"
        "import publisher.commands.send, publisher.engine.assemble\n"
        "sent = 'prometheus_client' in sys.modules\n"
        "import publisher.daemon\n"
        "print(json.dumps([sent, 'prometheus_client' in sys.modules]))\n"
    )
    assert run_probe(probe) == [False, True]  # the daemon, which serves /metrics, does


def test_a_command_runs_with_the_cli_collector_thresholds() -> None:
    probe = (
        "import gc, json\n"
        "from publisher.cli import main\n"
        "before = gc.get_threshold()\n"
        "code = main(['config', 'check'])\n"
        "print(json.dumps([before, gc.get_threshold(), code]))\n"
    )
    before, during, code = run_probe(probe)
    assert code == 0
    assert before != list(GC_THRESHOLDS)  # the interpreter's own default
    assert during == list(GC_THRESHOLDS)


def test_collection_pauses_through_sends_start_up_only_and_always_resumes() -> None:
    probe = (
        "import gc, json\n"
        "from publisher.cli import main\n"
        "from publisher.commands import common\n"
        "seen, real = [], common.settings_or_exit\n"
        "def spy(args):\n"
        "    seen.append([args.command, gc.isenabled()])\n"
        "    return real(args)\n"
        "common.settings_or_exit = spy\n"
        "codes = [main(['config', 'check']), main(['send', 'missing.ndjson'])]\n"
        "print(json.dumps([seen, codes, gc.isenabled()]))\n"
    )
    seen, codes, enabled_after = run_probe(probe)
    assert seen == [["config", True], ["send", False]]  # send: until its freeze
    assert codes == [0, 2]  # send stopped before its freeze (no such file)...
    assert enabled_after  # ...and collection is back


def test_the_cli_skips_import_time_work_no_command_uses() -> None:
    probe = (
        "import json, sys\n"
        "from publisher.cli import prepare_imports\n"
        "prepare_imports()\n"
        "import aiohttp.connector, structlog.dev, typing\n"
        "from pydantic import BaseModel\n"
        "from pydantic_core import core_schema\n"
        "verified = aiohttp.connector._SSL_CONTEXT_VERIFIED\n"
        "ref = core_schema.IntSchema.__annotations__['strict']\n"
        "print(json.dumps([type(verified).__name__, verified.cert_store_stats()['x509_ca'],"
        " structlog.dev.rich is None, 'rich' in sys.modules,"
        " isinstance(ref.__forward_code__, str), 'compile' in vars(typing)]))\n"
    )
    context_type, trusted, rich_hidden, rich_marked, text_kept, shadowed = run_probe(probe)
    assert context_type == "TrustOnFirstUse"
    assert trusted == 0  # read at its first handshake instead
    assert rich_hidden
    assert not rich_marked  # hidden from structlog's import only: importable afterwards
    assert text_kept  # pydantic's typed-dict annotations: compiled only if evaluated
    assert not shadowed


def test_pydantic_plugins_are_not_searched_for_unless_the_user_says_so() -> None:
    probe = (
        "import json, os\n"
        "from publisher.cli import prepare_imports\n"
        "os.environ.pop('PYDANTIC_DISABLE_PLUGINS', None)\n"
        "prepare_imports()\n"
        "ours = os.environ['PYDANTIC_DISABLE_PLUGINS']\n"
        "os.environ['PYDANTIC_DISABLE_PLUGINS'] = ''\n"
        "prepare_imports()\n"
        "from pydantic.plugin import _loader\n"
        "print(json.dumps([ours, os.environ['PYDANTIC_DISABLE_PLUGINS'],"
        " list(_loader.get_plugins()) == []]))\n"
    )
    ours, theirs, none_installed = run_probe(probe)
    assert ours == "__all__"
    assert theirs == ""  # a user's own setting (empty: plugins load) is left alone
    assert none_installed


def test_the_cli_defers_import_time_regular_expressions_of_the_listed_libraries() -> None:
    probe = (
        "import json, re\n"
        "from publisher.cli import prepare_imports\n"
        "prepare_imports()\n"
        "import fractions, idna.core, urllib3.util.url, yaml\n"
        "from publisher.import_hooks import LazyPattern\n"
        "lazy = [fractions._RATIONAL_FORMAT, idna.core._unicode_dots_re,"
        " urllib3.util.url._IPV4_RE, yaml.reader.Reader.NON_PRINTABLE]\n"
        "deferred = [isinstance(p, LazyPattern) and not vars(p).keys() - {'_source'}"
        " for p in lazy]\n"
        "values = [str(fractions.Fraction(' 3/4 ')), idna.encode('bücher.example').decode(),"
        " urllib3.util.parse_url('http://10.0.0.1:80/a').host,"
        " yaml.safe_load('a: [1, 2.5, true, null, 2001-12-14]\\n')['a'][:4]]\n"
        "print(json.dumps([deferred, values, isinstance(re.compile('x'), re.Pattern)]))\n"
    )
    deferred, values, compiles_as_usual = run_probe(probe)
    assert deferred == [True, True, True, True]  # nothing compiled them before their first use
    assert values == ["3/4", "xn--bcher-kva.example", "10.0.0.1", [1, 2.5, True, None]]
    assert compiles_as_usual
