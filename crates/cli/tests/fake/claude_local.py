#!/usr/bin/env python3
"""A stand-in for `claude` whose questions get answered elsewhere than on the phone.

It calls the hooks cr passes in --settings the way Claude Code does (`/bin/sh -c`, payload on
stdin). One key at a time (raw mode, no echo):
  a  draw a Bash permission dialog and call the PermissionRequest hook in the background
  h  call the PermissionRequest hook in the background without drawing anything
  c  clear the screen, as an answer at the keyboard closes the dialog (the hook call is left
     waiting, as Claude Code leaves it)
  p  fire PostToolUse for the latest request
  s  fire Stop
  u  fire UserPromptSubmit
  q  quit
It prints READY once it reads keys. Each hook call that returns prints
`HOOK <n> RETURNED <its stdout>`.
"""
import json
import os
import subprocess
import sys
import threading
import tty

args = sys.argv[1:]
settings = json.loads(args[args.index("--settings") + 1])
lock = threading.Lock()


def out(text):
    with lock:
        os.write(1, text.replace("\n", "\r\n").encode())


def hook(event, payload):
    cmd = settings["hooks"][event][0]["hooks"][0]["command"]
    payload = dict(payload, hook_event_name=event, session_id="fake-session")
    done = subprocess.run(["/bin/sh", "-c", cmd], input=json.dumps(payload).encode(), capture_output=True)
    return done.stdout.decode().strip()


DIALOG = """\x1b[2J\x1b[H\
────────────────────────────────────────────────────────────────────────────────
 Bash command

   {command}
   Print a number

 Do you want to proceed?
 ❯ 1. Yes
   2. No

 Esc to cancel · Tab to amend
"""

tty.setraw(0)
out("READY\n")
n = 0
tool_input = None
while True:
    key = os.read(0, 1)
    if key in (b"a", b"h"):
        n += 1
        tool_input = {"command": f"echo {n}", "description": "Print a number"}
        if key == b"a":
            out(DIALOG.format(command=tool_input["command"]))

        def ask(k=n, ti=tool_input):
            reply = hook("PermissionRequest", {"tool_name": "Bash", "tool_input": ti,
                                               "permission_suggestions": None})
            out(f"HOOK {k} RETURNED {reply}\n")

        threading.Thread(target=ask, daemon=True).start()
    elif key == b"c":
        out("\x1b[2J\x1b[H> \n")
    elif key == b"p":
        hook("PostToolUse", {"tool_name": "Bash", "tool_input": tool_input, "tool_response": "ok"})
    elif key == b"s":
        hook("Stop", {"stop_hook_active": False})
    elif key == b"u":
        hook("UserPromptSubmit", {"prompt": "next"})
    elif key in (b"q", b""):
        break
