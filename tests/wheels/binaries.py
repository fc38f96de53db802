"""Just enough of the ELF, Mach-O and PE formats to check a built extension
module: which machine it is for, what it exports, and what it imports.
"""
import struct

ELF_MACHINES = {62: "x86_64", 183: "aarch64"}
MACHO_CPUS = {0x01000007: "x86_64", 0x0100000C: "arm64"}
PE_MACHINES = {0x8664: "x86_64"}


def elf_machine(data):
    """The machine of a 64-bit little-endian ELF shared object."""
    assert data[:4] == b"\x7fELF", "not an ELF file"
    assert data[4] == 2 and data[5] == 1, "not 64-bit little-endian ELF"
    (file_type, machine) = struct.unpack_from("<HH", data, 16)
    assert file_type == 3, f"ELF type {file_type}, not a shared object"
    return ELF_MACHINES.get(machine, machine)


def macho_slices(data):
    """The thin Mach-O images in `data` (a fat file or one image), by CPU."""
    (magic,) = struct.unpack_from(">I", data, 0)
    if magic == 0xCAFEBABE:
        (count,) = struct.unpack_from(">I", data, 4)
        slices = {}
        for index in range(count):
            cpu, _, offset, size, _ = struct.unpack_from(">iiIII", data, 8 + 20 * index)
            slices[MACHO_CPUS.get(cpu, cpu)] = data[offset:offset + size]
        return slices
    (cpu,) = struct.unpack_from("<i", data, 4)
    return {MACHO_CPUS.get(cpu, cpu): data}


def uleb(data, at):
    """An unsigned LEB128 number at `at`, and where the next item starts."""
    value = shift = 0
    while True:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at, shift = at + 1, shift + 7
        if byte < 0x80:
            return value, at


def macho_bindings(stream):
    """{symbol: library ordinal} of a dyld bind opcode stream; -2 is
    BIND_SPECIAL_DYLIB_FLAT_LOOKUP (looked up in every loaded image)."""
    bound, ordinal, symbol, at = {}, 0, None, 0
    while at < len(stream):
        opcode, immediate = stream[at] & 0xF0, stream[at] & 0x0F
        at += 1
        if opcode == 0x10:  # SET_DYLIB_ORDINAL_IMM
            ordinal = immediate
        elif opcode == 0x20:  # SET_DYLIB_ORDINAL_ULEB
            ordinal, at = uleb(stream, at)
        elif opcode == 0x30:  # SET_DYLIB_SPECIAL_IMM: 0, -1 or -2
            ordinal = immediate - 16 if immediate else 0
        elif opcode == 0x40:  # SET_SYMBOL_TRAILING_FLAGS_IMM
            end = stream.index(b"\0", at)
            symbol, at = stream[at:end].decode(), end + 1
        elif opcode in (0x60, 0x70, 0x80, 0xA0):  # one (S)LEB128 operand
            _, at = uleb(stream, at)
        elif opcode == 0xC0:  # DO_BIND_ULEB_TIMES_SKIPPING_ULEB
            _, at = uleb(stream, at)
            _, at = uleb(stream, at)
        if opcode in (0x90, 0xA0, 0xB0, 0xC0):  # the DO_BIND family
            bound[symbol] = ordinal
    return bound


def macho_image(image):
    """(dylibs loaded, exported names, {imported name: library ordinal}) of
    one 64-bit little-endian Mach-O image."""
    magic, _, _, file_type, ncmds, _, _, _ = struct.unpack_from("<IiiIIIII", image, 0)
    assert magic == 0xFEEDFACF, "not a 64-bit Mach-O image"
    assert file_type in (6, 8), f"Mach-O type {file_type}, not a dylib or bundle"
    dylibs, exported, undefined = [], set(), {}
    offset = 32
    for _ in range(ncmds):
        command, size = struct.unpack_from("<II", image, offset)
        if command in (0xC, 0x80000018):  # LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB
            (name_at,) = struct.unpack_from("<I", image, offset + 8)
            dylibs.append(image[offset + name_at:offset + size].split(b"\0")[0].decode())
        elif command in (0x22, 0x80000022):  # LC_DYLD_INFO(_ONLY)
            fields = struct.unpack_from("<10I", image, offset + 8)
            for start, length in (fields[2:4], fields[6:8]):  # bind, lazy bind
                undefined.update(macho_bindings(image[start:start + length]))
        elif command == 0x2:  # LC_SYMTAB
            symbols, count, strings, _ = struct.unpack_from("<IIII", image, offset + 8)
            for index in range(count):
                name_at, kind, _, _, _ = struct.unpack_from("<IBBhQ", image, symbols + 16 * index)
                name = image[strings + name_at:].split(b"\0", 1)[0].decode()
                if kind & 0x1 and kind & 0xE == 0xE:  # N_EXT, N_SECT
                    exported.add(name)
        offset += size
    return dylibs, exported, undefined


def pe_image(data):
    """(machine, imported DLLs, exported names) of a 64-bit PE DLL."""
    assert data[:2] == b"MZ", "not a PE file"
    (pe_at,) = struct.unpack_from("<I", data, 0x3C)
    assert data[pe_at:pe_at + 4] == b"PE\0\0", "no PE signature"
    machine, sections, _, _, _, optional_size, characteristics = struct.unpack_from("<HHIIIHH", data, pe_at + 4)
    assert characteristics & 0x2000, "not a DLL"
    optional_at = pe_at + 24
    assert struct.unpack_from("<H", data, optional_at)[0] == 0x20B, "not PE32+"
    directories = optional_at + 112
    table_at = optional_at + optional_size
    section_table = [struct.unpack_from("<IIII", data, table_at + 40 * i + 8) for i in range(sections)]

    def at(rva):
        for virtual_size, address, raw_size, raw_at in section_table:
            if address <= rva < address + max(virtual_size, raw_size):
                return rva - address + raw_at
        raise AssertionError(f"RVA {rva:#x} in no section")

    def string(rva):
        start = at(rva)
        return data[start:data.index(b"\0", start)].decode()

    export_rva, _ = struct.unpack_from("<II", data, directories)
    import_rva, _ = struct.unpack_from("<II", data, directories + 8)
    exported = []
    if export_rva:
        count, _, names_rva = struct.unpack_from("<III", data, at(export_rva) + 24)
        exported = [string(struct.unpack_from("<I", data, at(names_rva) + 4 * i)[0]) for i in range(count)]
    imported = []
    descriptor = at(import_rva)
    while True:
        name_rva = struct.unpack_from("<I", data, descriptor + 12)[0]
        if name_rva == 0:
            break
        imported.append(string(name_rva))
        descriptor += 20
    return PE_MACHINES.get(machine, machine), imported, exported
