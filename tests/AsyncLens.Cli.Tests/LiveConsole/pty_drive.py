#!/usr/bin/env python3
import os, pty, sys, time, select
# Drives a program through a pseudo-terminal, as a person at a terminal would: argv[1] is the keystrokes (Python
# escapes; \x00 separates what is typed in one go, with a pause after each), the rest the program. Prints the screen
# output, raw.
keys = sys.argv[1].encode().decode('unicode_escape').split('\x00')
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out = b''
def drain(timeout):
    global out
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return False
            if not data:
                return False
            out += data
    return True
drain(8)
for k in keys:
    os.write(fd, k.encode())
    drain(3)
drain(3)
os.waitpid(pid, 0)
sys.stdout.write(out.decode('utf-8', 'replace'))
