# Renames one version requirement (vernaux) of an ELF shared object and fixes its hash: used to let TorchSharp's
# native shim, built against GCC 13, load with GCC 12's libstdc++ (see patch-torchsharp.sh). Usage: old new
import struct, sys
def elf_hash(name):
    h = 0
    for c in name.encode():
        h = (h << 4) + c
        g = h & 0xf0000000
        if g: h ^= g >> 24
        h &= ~g
    return h & 0xffffffff
path, old, new = sys.argv[1], sys.argv[2], sys.argv[3]
assert len(old) == len(new)
data = bytearray(open(path, 'rb').read())
e_shoff, = struct.unpack_from('<Q', data, 0x28)
e_shentsize, e_shnum, e_shstrndx = struct.unpack_from('<HHH', data, 0x3a)
secs = []
for i in range(e_shnum):
    off = e_shoff + i * e_shentsize
    name, typ, flags, addr, offset, size, link, info, align, entsize = struct.unpack_from('<IIQQQQIIQQ', data, off)
    secs.append((name, typ, offset, size, link, info))
SHT_GNU_verneed = 0x6ffffffe
done = False
for name, typ, offset, size, link, info in secs:
    if typ != SHT_GNU_verneed: continue
    strtab_off = secs[link][2]
    pos = offset
    for _ in range(info):
        vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from('<HHIII', data, pos)
        apos = pos + vn_aux
        for _ in range(vn_cnt):
            vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from('<IHHII', data, apos)
            s = strtab_off + vna_name
            end = data.index(0, s)
            if data[s:end].decode() == old:
                data[s:end] = new.encode()
                struct.pack_into('<I', data, apos, elf_hash(new))
                done = True
            apos += vna_next
        pos += vn_next
open(path, 'wb').write(data)
print('patched' if done else 'not found')
