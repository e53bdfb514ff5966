"""What the bench/*.sh report scripts share: the machine they ran on, and
rewriting their own "## " section of bench/README.md (the rest of the file
stays as it is). Imported by their inline Python from the repo root."""
import os
import platform
import re


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine():
    return f"{os.cpu_count()} CPUs ({cpu_model()}), Linux {platform.release()}"


def update_readme(title, section, edit=None, path="bench/README.md"):
    """Replaces the section headed "## title" (up to the next "## " heading
    or the end) with `section`, or appends it if there is none. `edit`, if
    given, changes the rest of the text first (text -> text)."""
    text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
    if edit is not None:
        text = edit(text)
    pat = re.compile(r"^## " + re.escape(title) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    if pat.search(text):
        text = pat.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text.rstrip("\n") + "\n")
