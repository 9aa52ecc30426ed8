#!/usr/bin/env python3
"""A stand-in for `claude` that exercises cr's hooks the way Claude Code does.

It reads the hooks cr passes in --settings, draws a Claude Code style permission dialog,
runs the PermissionRequest hook command with the payload on stdin (as /bin/sh -c, like Claude
Code), clears the dialog and prints the decision it got. It asks twice, then fires Stop.
"""
import json
import subprocess
import sys

args = sys.argv[1:]
settings = json.loads(args[args.index("--settings") + 1])


def hook(event, payload):
    cmd = settings["hooks"][event][0]["hooks"][0]["command"]
    payload = dict(payload, hook_event_name=event, session_id="fake-session")
    out = subprocess.run(["/bin/sh", "-c", cmd], input=json.dumps(payload).encode(), capture_output=True)
    return json.loads(out.stdout or b"{}")


DIALOG = """\
────────────────────────────────────────────────────────────────────────────────
 Bash command

   {command}
   Install a package

 Do you want to proceed?
 ❯ 1. Yes
   2. Yes, and don’t ask again for: npm install *
   3. No

 Esc to cancel · Tab to amend · ctrl+e to explain
"""

hook("SessionStart", {"source": "startup"})
for command in ["npm install left-pad", "npm install right-pad"]:
    sys.stdout.write(DIALOG.format(command=command).replace("\n", "\r\n"))
    sys.stdout.flush()
    tool_input = {"command": command, "description": "Install a package"}
    reply = hook("PermissionRequest", {
        "tool_name": "Bash",
        "tool_input": tool_input,
        "permission_suggestions": [{"type": "addRules", "rules": [{"toolName": "Bash", "ruleContent": "npm install *"}],
                                    "behavior": "allow", "destination": "localSettings"}],
    })
    # The dialog closes with the hook's decision: clear it.
    sys.stdout.write("\x1b[2J\x1b[H")
    decision = reply.get("hookSpecificOutput", {}).get("decision", {})
    line = "DECISION " + decision.get("behavior", "none")
    if decision.get("message"):
        line += " message=" + decision["message"]
    for p in decision.get("updatedPermissions", []):
        line += " rule=" + ",".join(r.get("ruleContent", "") for r in p.get("rules", []))
    print(line + "\r", flush=True)
    if decision.get("behavior") == "allow":
        hook("PostToolUse", {"tool_name": "Bash", "tool_input": tool_input, "tool_response": "ok"})
hook("Stop", {"stop_hook_active": False})
print("FAKE CLAUDE DONE\r", flush=True)
