#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Copies include/ for tools/cuda_emulation: kernels/cuda/*.cuh rewritten so g++ can compile them
against the fake headers (`k<<<grid, block, shmem, stream>>>(args);` becomes
`emu::launch(dim3(grid), dim3(block), shmem, [&] { k(args); });`, and `extern __shared__ T x[];`
a pointer to the launch's dynamic shared memory); everything else is linked, not copied.

Usage: transform.py REPO_ROOT OUT_INCLUDE_DIR
"""
import os
import re
import shutil
import sys

root, dst = sys.argv[1], sys.argv[2]
src = os.path.join(root, 'include')
shutil.rmtree(dst, ignore_errors=True)
os.makedirs(os.path.join(dst, 'templlm', 'kernels', 'cuda'))
for d in os.listdir(os.path.join(src, 'templlm')):
    if d != 'kernels':
        os.symlink(os.path.join(src, 'templlm', d), os.path.join(dst, 'templlm', d))
for d in os.listdir(os.path.join(src, 'templlm', 'kernels')):
    if d != 'cuda':
        os.symlink(os.path.join(src, 'templlm', 'kernels', d), os.path.join(dst, 'templlm', 'kernels', d))


def split_top(s):
    parts, depth, cur = [], 0, ''
    for ch in s:
        depth += ch in '([{'
        depth -= ch in ')]}'
        if ch == ',' and depth == 0:
            parts.append(cur)
            cur = ''
        else:
            cur += ch
    return [p.strip() for p in parts + [cur]]


launch = re.compile(r'([\w:]+(?:<[^<>;]*>)?)<<<(.*?)>>>\((.*?)\);', re.S)


def rewrite_launch(m):
    name, config, args = m.group(1), split_top(m.group(2)), m.group(3)
    config += ['0'] * (3 - len(config))
    return f'emu::launch(dim3({config[0]}), dim3({config[1]}), {config[2]}, [&] {{ {name}({args}); }});'


def rewrite(path, out):
    s = open(path).read()
    s = re.sub(r'extern __shared__ (\w+) (\w+)\[\];',
               r'\1* \2 = reinterpret_cast<\1*>(emu::current.dynamic_shared);', s)
    s = launch.sub(rewrite_launch, s)
    open(out, 'w').write(s)


cuda = os.path.join(src, 'templlm', 'kernels', 'cuda')
for dirpath, _, files in os.walk(cuda):
    rel = os.path.relpath(dirpath, cuda)
    os.makedirs(os.path.join(dst, 'templlm', 'kernels', 'cuda', rel), exist_ok=True)
    for f in files:
        rewrite(os.path.join(dirpath, f), os.path.join(dst, 'templlm', 'kernels', 'cuda', rel, f))
