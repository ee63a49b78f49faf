"""What every vector generator (test/vectors/*/generate.py) shares: a fresh valid/ and invalid/
beside the generator, and each vector written as NNN.<ext> (the wire bytes) + NNN.json (what is
expected of them)."""
import json
import os
import shutil


def fresh(root):
    """Empty valid/ and invalid/ under root (the generator's folder)."""
    for d in ('valid', 'invalid'):
        shutil.rmtree(os.path.join(root, d), ignore_errors=True)
        os.makedirs(os.path.join(root, d))


def write_all(root, ext, valid, invalid):
    """Write the (wire, expected) pairs, numbered from 001, and say how many."""
    for kind, items in (('valid', valid), ('invalid', invalid)):
        for i, (wire, meta) in enumerate(items, 1):
            base = os.path.join(root, kind, f'{i:03d}')
            with open(base + ext, 'wb') as f:
                f.write(wire)
            with open(base + '.json', 'w') as f:
                f.write(json.dumps(meta, indent=2, ensure_ascii=True) + '\n')
    print(len(valid), 'valid', len(invalid), 'invalid')
