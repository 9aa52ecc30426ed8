"""The claude lab's machinery: the mock API process, a throw-away HOME, and the real `claude`
running in a PTY whose output feeds a terminal emulator (pyte) so the lab can wait for screens.

`capture.py` (fixtures) and `hooks.py` (hook payloads and http answers) are built on it.
"""

import fcntl
import json
import os
import pty
import re
import shutil
import signal
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

import pyte

REPO = Path(__file__).resolve().parents[2]
MOCK = REPO / "tests" / "claude" / "mock-anthropic.mjs"
CLAUDE_DIR = Path(os.environ.get("CR_CLAUDE_DIR", Path.home() / ".cache/claude-remote/claude"))
# A fixed place, so the paths Claude Code shows in fixtures are the same on every capture.
LAB = Path(os.environ.get("CR_LAB_DIR", "/tmp/cr-claude-lab"))
HOME = LAB / "home"
PROJECT = HOME / "proj"
OUTSIDE = LAB / "outside"
FAKE_KEY = "sk-ant-api03-" + "x" * 80 + "-mockAAAA"

# How long the PTY must stay silent before a screen counts as settled. Claude Code redraws a
# dialog in a few frames within ~100 ms; a second of silence is well past that.
SETTLE_QUIET = 1.0
# Generous deadline for anything the lab waits for (a cold node start of cli.js takes ~3 s).
WAIT_TIMEOUT = 40.0

# Sequences pyte 0.8 misparses (it would draw the final byte as text): kitty keyboard
# push/pop/query (`CSI > 1 u`, `CSI < u`, `CSI ? u`), xterm modifyOtherKeys (`CSI > 4 ; 2 m`),
# XTVERSION (`CSI > 0 q`) and other `CSI <`/`CSI =`/`CSI >` forms. None of them changes the
# screen, so dropping them keeps the emulated screen exact.
PYTE_UNSUPPORTED = re.compile(rb"\x1b\[[<=>][0-9;]*[ -/]*[@-~]|\x1b\[\?[0-9;]*u")
# An escape sequence that is complete: CSI, OSC/DCS/APC/PM ended by BEL or ST, or ESC + one byte.
COMPLETE_ESCAPE = re.compile(rb"\x1b(\[[0-?]*[ -/]*[@-~]|[\]P_^][^\x07\x1b]*(\x07|\x1b\\)|[^\[\]P_^])", re.S)


class Mock:
    """The mock Messages API as a child process, logging to `log`."""

    def __init__(self, log: Path):
        self.log = log
        log.write_text("")
        self.proc = subprocess.Popen(
            ["node", str(MOCK), "--port", "0", "--log", str(log)],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline()
        m = re.match(r"listening (\d+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"mock did not start: {line!r}")
        self.port = int(m.group(1))

    def entries(self):
        return [json.loads(x) for x in self.log.read_text().splitlines() if x.strip()]

    def tool_results(self):
        """Every tool_result Claude sent, as (tool_use_id, is_error, text), oldest first, once."""
        seen, out = set(), []
        for e in self.entries():
            body = e.get("body") or {}
            for m in body.get("messages", []):
                if m.get("role") != "user" or not isinstance(m.get("content"), list):
                    continue
                for b in m["content"]:
                    if b.get("type") == "tool_result" and b.get("tool_use_id") not in seen:
                        seen.add(b.get("tool_use_id"))
                        out.append((b.get("tool_use_id"), bool(b.get("is_error")), content_text(b.get("content"))))
        return out

    def replies(self):
        """The text replies the mock gave to main-loop requests (those carrying tools), which
        quote what Claude Code sent: tool_results and the user's words."""
        return [e["reply"]["text"] for e in self.entries()
                if (e.get("body") or {}).get("tools") and (e.get("reply") or {}).get("kind") == "text"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def content_text(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", f"[{b.get('type')}]") for b in content if isinstance(b, dict))
    return json.dumps(content)


def fresh_home(trusted=True, mcp=None):
    """Wipes the lab directory and writes the HOME and project Claude Code starts from.

    `mcp` is None (no `.mcp.json`), "new" (a project server Claude Code asks about) or
    "enabled" (the same server, already approved in `.claude/settings.local.json`)."""
    if LAB.exists():
        shutil.rmtree(LAB)
    (HOME / ".claude").mkdir(parents=True)
    PROJECT.mkdir(parents=True)
    OUTSIDE.mkdir(parents=True)
    (PROJECT / "notes.txt").write_text("alpha\nsecond line\n")
    (PROJECT / "app.py").write_text("print('old')\n")
    (OUTSIDE / "secret.txt").write_text("outside the project\n")
    project = {"hasTrustDialogAccepted": True} if trusted else {}
    state = {
        "hasCompletedOnboarding": True,
        "customApiKeyResponses": {"approved": [FAKE_KEY[-20:]], "rejected": []},
        "projects": {str(PROJECT): project},
    }
    (HOME / ".claude.json").write_text(json.dumps(state, indent=2))
    if mcp:
        server = PROJECT / "echo_mcp.py"
        server.write_text(ECHO_MCP_SERVER)
        (PROJECT / ".mcp.json").write_text(json.dumps(
            {"mcpServers": {"demo": {"type": "stdio", "command": "python3", "args": [str(server)]}}},
            indent=2,
        ))
    if mcp == "enabled":
        (PROJECT / ".claude").mkdir()
        (PROJECT / ".claude" / "settings.local.json").write_text(
            json.dumps({"enabledMcpjsonServers": ["demo"]}, indent=2))


# A minimal MCP stdio server with one tool, `echo`, so the project-MCP approval dialog (and
# an MCP tool call) can be shown without any package.
ECHO_MCP_SERVER = r'''
import json, sys
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    method, result = msg.get("method"), {}
    if method == "initialize":
        result = {"protocolVersion": msg["params"].get("protocolVersion", "2024-11-05"),
                  "capabilities": {"tools": {}}, "serverInfo": {"name": "demo", "version": "1.0"}}
    elif method == "tools/list":
        result = {"tools": [{"name": "echo", "description": "Echo text",
                             "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                                             "required": ["text"]}}]}
    elif method == "tools/call":
        result = {"content": [{"type": "text", "text": "echo: " + msg["params"]["arguments"].get("text", "")}]}
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
'''


def claude_env(mock_port, renderer="main"):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(HOME),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{mock_port}",
        "ANTHROPIC_API_KEY": FAKE_KEY,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        # Otherwise 2.1.x tries to fetch the plugin marketplace and, offline, flashes
        # "Failed to install Anthropic marketplace" in the footer at a random moment.
        "CLAUDE_CODE_DISABLE_OFFICIAL_MARKETPLACE_AUTOINSTALL": "1",
        # cli.js builds (2.0.76, 2.1.112) show a 15 s "switched from npm to native installer"
        # notice in the footer otherwise.
        "DISABLE_INSTALLATION_CHECKS": "1",
    }
    if renderer == "main":
        env["CLAUDE_CODE_NO_FLICKER"] = "0"
    return env


class Pty:
    """One program in a PTY of a fixed size; every byte it writes is kept and emulated."""

    def __init__(self, argv, env, cwd, rows, cols):
        self.rows, self.cols = rows, cols
        self.raw = bytearray()
        self.chunks = []  # (end offset, monotonic time) of every read
        self.lock = threading.Lock()
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.fed = 0
        self.pending = b""
        pid, fd = pty.fork()
        if pid == 0:
            try:
                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
                os.chdir(cwd)
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.last_output = time.monotonic()
        self.exited = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError:
                data = b""
            if not data:
                self.exited = True
                return
            with self.lock:
                self.raw += data
                self.chunks.append((len(self.raw), time.monotonic()))
                self.last_output = time.monotonic()

    def pump(self):
        """Feeds the emulator everything read so far (holding back a split escape sequence)."""
        with self.lock:
            new = bytes(self.raw[self.fed:])
            self.fed = len(self.raw)
        if new:
            feed_pyte(self, new)

    def lines(self):
        self.pump()
        return screen_lines(self.screen)

    def text(self):
        return "\n".join(self.lines())

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        os.write(self.fd, data)

    def wait(self, pred, timeout=WAIT_TIMEOUT, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = self.lines()
            if pred(lines):
                return lines
            if self.exited:
                break
            time.sleep(0.05)
        raise TimeoutError(f"timed out waiting for {what}; screen:\n" + "\n".join(self.lines()))

    def wait_text(self, needle, timeout=WAIT_TIMEOUT):
        if isinstance(needle, str):
            return self.wait(lambda ls: needle in "\n".join(ls), timeout, repr(needle))
        return self.wait(lambda ls: needle.search("\n".join(ls)) is not None, timeout, needle.pattern)

    def settle(self, quiet=SETTLE_QUIET, timeout=WAIT_TIMEOUT):
        """Waits until the screen has not changed for `quiet` seconds and returns how many
        bytes had been read then. A blinking `●` (2.1.3xx's alternate-screen renderer blinks
        the running tool's bullet forever) does not count as a change."""
        deadline = time.monotonic() + timeout
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            with self.lock:
                end = len(self.raw)
            self.pump()
            now = "\n".join(screen_lines(self.screen)).replace("●", " ")
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return end
            time.sleep(0.05)
        raise TimeoutError("screen never settled:\n" + self.text())

    def submit(self, text):
        """Types `text` into Claude Code's input box and presses Enter once it is on screen.
        (2.0.76 takes text and Enter in one write as a paste and does not submit.)"""
        self.send(text)
        probe = text[-20:]
        self.wait(lambda ls: any(probe in l for l in ls), what=f"typed text {probe!r}")
        time.sleep(0.2)
        self.send("\r")

    def close(self):
        try:
            os.killpg(os.getpgid(self.pid), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass
        try:
            os.close(self.fd)
        except OSError:
            pass


def feed_pyte(holder, data):
    """Feeds bytes to `holder.stream`, dropping what pyte misparses, across chunk boundaries."""
    data = holder.pending + data
    # Hold back an escape sequence that may continue in the next chunk.
    cut = data.rfind(b"\x1b")
    if cut != -1 and not COMPLETE_ESCAPE.match(data, cut):
        holder.pending, data = data[cut:], data[:cut]
    else:
        holder.pending = b""
    holder.stream.feed(PYTE_UNSUPPORTED.sub(b"", data))


def screen_lines(screen):
    # Only spaces: a trailing U+00A0 (Claude Code draws some) is content.
    return [line.rstrip(" ") for line in screen.display]


def emulate(raw, rows, cols):
    """The screen `raw` leaves on a fresh rows x cols terminal, one string per row."""

    class Holder:
        pass

    h = Holder()
    h.screen = pyte.Screen(cols, rows)
    h.stream = pyte.ByteStream(h.screen)
    h.pending = b""
    feed_pyte(h, raw)
    if h.pending:
        h.stream.feed(h.pending)
    return screen_lines(h.screen)


class Session:
    """A mock plus one `claude` in a PTY, in a fresh lab HOME."""

    def __init__(self, version, rows=32, cols=100, renderer="main", trusted=True, mcp=None,
                 mode=None, extra_args=(), log_name="mock.log"):
        fresh_home(trusted=trusted, mcp=mcp)
        self.version = version
        self.mock = Mock(LAB / log_name)
        argv = [str(CLAUDE_DIR / version / "bin" / "claude")]
        if mode is None:
            mode = "manual" if version_tuple(version) >= (2, 1, 200) else "default"
        if mode:
            argv += ["--permission-mode", mode]
        argv += list(extra_args)
        self.argv = argv
        self.pty = Pty(argv, claude_env(self.mock.port, renderer), PROJECT, rows, cols)

    def close(self):
        self.pty.close()
        self.mock.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def version_tuple(v):
    return tuple(int(x) for x in v.split("."))


# ---------------------------------------------------------------------------------------------
# Reading a dialog off a screen (for the fixtures' metadata; `cr` has its own detector)

OPTION = re.compile(r"^(\s*)(❯\s+)?(\d+)\.\s+(.*)$")
FOCUS = re.compile(r"^(\s*)❯\s+(.*)$")
RULE_CHARS = set("─▔╭╮")


def is_rule(line, cols):
    s = line.strip()
    return len(s) >= cols * 0.6 and set(s) <= RULE_CHARS


def unbox(line):
    """2.0.76 draws some dialogs inside a rounded box; drop its `│` sides."""
    m = re.match(r"^│(.*)│$", line)
    return m.group(1).rstrip() if m else line


def parse_dialog(lines, cols, kind):
    """The option block around the focused `❯` line: title (None when scrolled off), options
    (label, number, focused, description), and the screen's last line (the footer hint)."""
    lines = [unbox(l) for l in lines]
    focus = None
    for i, line in enumerate(lines):
        m = FOCUS.match(line)
        if not m:
            continue
        # The idle input box is a `❯` between two full-width rules, not an option.
        if i > 0 and i + 1 < len(lines) and is_rule(lines[i - 1], cols) and is_rule(lines[i + 1], cols):
            continue
        focus = i
    if focus is None:
        return None
    numbered = OPTION.match(lines[focus])
    if numbered:
        col = lines[focus].index(numbered.group(3))

        def is_option(line):
            m = OPTION.match(line)
            return m is not None and line.index(m.group(3)) == col
    else:
        col = len(lines[focus]) - len(FOCUS.match(lines[focus]).group(2))

        def is_option(line):
            return line.strip() != "" and len(line) - len(line.lstrip(" ❯")) == col

    def belongs(i):
        line = lines[i]
        if is_option(line):
            return True
        indent = len(line) - len(line.lstrip())
        # Continuation rows: a wrapped label, a description (multiSelect puts it under the
        # number), a hint; never a row left of the numbers, such as the question above.
        return numbered is not None and line.strip() != "" and indent >= col

    start = focus
    while start > 0 and belongs(start - 1):
        start -= 1
    while not is_option(lines[start]):
        start += 1
    end = focus + 1
    while end < len(lines):
        if belongs(end):
            end += 1
        elif is_rule(lines[end], cols) and end + 1 < len(lines) and is_option(lines[end + 1]):
            end += 1  # AskUserQuestion draws a rule before "Chat about this"
        else:
            break
    options = []
    for i in range(start, end):
        line = lines[i]
        if is_rule(line, cols):
            continue
        if is_option(line):
            m = OPTION.match(line)
            if numbered:
                label, number = m.group(4).strip(), int(m.group(3))
            else:
                label, number = line.strip().lstrip("❯").strip(), None
            options.append({"label": label, "number": number, "focused": i == focus, "description": None})
            label_col = len(line) - len(line.lstrip(" ❯")) if not numbered else line.index(m.group(4))
            continue
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        # A row at the label's column continues the label only when the row above ran to the
        # right edge (a wrap); otherwise it is a hint such as "shift+tab to approve with this
        # feedback" under the plan dialog's last option.
        wrapped = len(lines[i - 1]) >= cols - 15
        if kind == "question" and text in ("Submit", "Next"):
            # The multi-question form's own unnumbered row under "Type something".
            options.append({"label": text, "number": None, "focused": False, "description": None})
            continue
        opt = options[-1]
        if kind != "question" and indent == label_col and wrapped:
            opt["label"] += " " + text  # a label wrapped onto the next row
        else:
            opt["description"] = text if opt["description"] is None else opt["description"] + " " + text
    # The dialog's top edge is the topmost full-width rule above the options: the plan dialog
    # has a second `───` rule inside it, and nothing above a dialog draws such a rule.
    title = None
    top = next((i for i in range(start) if is_rule(lines[i], cols)), None)
    if top is not None:
        title = next((l.strip() for l in lines[top + 1:start] if l.strip() and not is_rule(l, cols)), None)
    if title:
        title = title.rstrip(" ↑↓")  # the fullscreen renderer's scroll hint at the right edge
    footer = next((l.strip() for l in reversed(lines) if l.strip()), "")
    return {"kind": kind, "title": title, "numbered": bool(numbered), "options": options,
            "footer": footer, "rows": [start, end]}
