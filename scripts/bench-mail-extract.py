"""Python's standard email package extracting what `analyse-mail --extract-only` extracts
(sender, recipients, subject, attachments with their SHA-256, the URLs of text and HTML
bodies), the comparison of docs/benchmarks.md. One thread.

Usage: python3 scripts/bench-mail-extract.py FILE...   (prints the counts)
"""

import email
import email.policy
import hashlib
import re
import sys

URL = re.compile(r"""(?i)\b(?:(?:https?|ftp)://|www\.)[^\s<>"'`]+""")


def addresses(message, names):
    found = []
    for name in names:
        try:
            header = message[name]
            if header is not None:
                found.extend(a.addr_spec for a in header.addresses)
        except Exception:  # a header the package cannot read counts as none
            pass
    return found


def extract(raw):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    sender = addresses(message, ["From"])[:1]
    recipients = addresses(message, ["To", "Cc", "Bcc"])
    subject = str(message["Subject"] or "")
    attachments, urls = [], []
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.is_attachment():
            payload = part.get_payload(decode=True) or b""
            attachments.append((part.get_filename(), hashlib.sha256(payload).hexdigest()))
        elif part.get_content_type() in ("text/plain", "text/html"):
            try:
                urls.extend(URL.findall(part.get_content()))
            except Exception:
                pass
    return sender, recipients, subject, attachments, urls


def main():
    messages = failed = n_urls = n_attachments = 0
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            raw = f.read()
        try:
            _, _, _, attachments, urls = extract(raw)
            messages += 1
            n_urls += len(urls)
            n_attachments += len(attachments)
        except Exception:
            failed += 1
    print(f"{messages} messages ({failed} failed), {n_attachments} attachments, {n_urls} URLs")


main()
