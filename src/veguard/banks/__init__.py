"""Banks of known content: verified texts (violating, or benign) matched exactly and as edited
reposts, the way hash-sharing databases match known images and video.

    signature.py    what is stored about a text: SHA-256 of the normalised text, MinHash passages
    index.py        the in-memory index (numpy: exact keys, LSH bands, b-bit signatures)
    store.py        banks, entries, proposals and their audit log in the queue's database
    matcher.py      matching every bank, the quarantine guard, applying matches to a result
    interchange.py  the JSONL interchange format and threatexchange's text signals
    cli.py          `veguard bank ...`

docs/BANKS.md is the user's guide. What the package leaves out: classification (the model
does that; banks only add `matches`) and fetching from hash-sharing APIs.
"""
