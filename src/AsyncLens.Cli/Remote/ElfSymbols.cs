using System.Buffers.Binary;

namespace AsyncLens.Cli.Remote;

/// <summary>
/// The function of a native library an address falls in, from the library's ELF symbol tables (<c>.symtab</c> when
/// it was not stripped, else the exported <c>.dynsym</c>): <c>fmod</c> in libm.so.6. Read from the file on disk, once
/// per library; null where no symbol covers the address (a library's internal functions are often not exported).
/// </summary>
internal sealed class ElfSymbols
{
    private const int SymbolSize = 24;

    private readonly (ulong Start, ulong End, string Name)[] _functions;
    private readonly ulong _firstLoad;

    private ElfSymbols((ulong, ulong, string)[] functions, ulong firstLoad)
    {
        _functions = functions;
        _firstLoad = firstLoad;
    }

    private static readonly Dictionary<string, ElfSymbols?> s_files = [];

    /// <summary>The function at <paramref name="address"/> of the library loaded at <paramref name="imageBase"/> from <paramref name="path"/>.</summary>
    public static string? FunctionAt(string path, ulong imageBase, ulong address)
    {
        ElfSymbols? symbols;
        lock (s_files)
        {
            if (!s_files.TryGetValue(path, out symbols))
                s_files[path] = symbols = Read(path);
        }
        if (symbols is null || address < imageBase)
            return null;
        var at = address - imageBase + symbols._firstLoad;
        foreach (var (start, end, name) in symbols._functions)
        {
            if (at >= start && at < end)
                return name;
        }
        return null;
    }

    // ELF64, little-endian: section headers, the symbol tables and their string tables; the first PT_LOAD's address
    // (the load base ClrMD reports is where that segment is mapped).
    private static ElfSymbols? Read(string path)
    {
        byte[] file;
        try
        {
            file = File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        if (file.Length < 64 || file[0] != 0x7F || file[1] != (byte)'E' || file[2] != (byte)'L' || file[3] != (byte)'F' || file[4] != 2 || file[5] != 1)
            return null;
        var span = file.AsSpan();
        var programHeaders = (int)BinaryPrimitives.ReadUInt64LittleEndian(span[32..]);
        var programHeaderSize = BinaryPrimitives.ReadUInt16LittleEndian(span[54..]);
        var programHeaderCount = BinaryPrimitives.ReadUInt16LittleEndian(span[56..]);
        var sectionHeaders = (int)BinaryPrimitives.ReadUInt64LittleEndian(span[40..]);
        var sectionHeaderSize = BinaryPrimitives.ReadUInt16LittleEndian(span[58..]);
        var sectionCount = BinaryPrimitives.ReadUInt16LittleEndian(span[60..]);
        ulong firstLoad = 0;
        for (var i = 0; i < programHeaderCount; i++)
        {
            var header = span.Slice(programHeaders + i * programHeaderSize, programHeaderSize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header) == 1) // PT_LOAD
            {
                firstLoad = BinaryPrimitives.ReadUInt64LittleEndian(header[16..]) & ~0xFFFUL;
                break;
            }
        }
        var functions = new List<(ulong, ulong, string)>();
        for (var i = 0; i < sectionCount; i++)
        {
            var section = span.Slice(sectionHeaders + i * sectionHeaderSize, sectionHeaderSize);
            var type = BinaryPrimitives.ReadUInt32LittleEndian(section[4..]);
            if (type is not (2 or 11)) // SHT_SYMTAB, SHT_DYNSYM
                continue;
            var offset = (int)BinaryPrimitives.ReadUInt64LittleEndian(section[24..]);
            var size = (int)BinaryPrimitives.ReadUInt64LittleEndian(section[32..]);
            var link = (int)BinaryPrimitives.ReadUInt32LittleEndian(section[40..]);
            var strings = span.Slice(sectionHeaders + link * sectionHeaderSize, sectionHeaderSize);
            var stringsOffset = (int)BinaryPrimitives.ReadUInt64LittleEndian(strings[24..]);
            for (var s = offset; s + SymbolSize <= offset + size && s + SymbolSize <= file.Length; s += SymbolSize)
            {
                var symbol = span[s..];
                var value = BinaryPrimitives.ReadUInt64LittleEndian(symbol[8..]);
                var length = BinaryPrimitives.ReadUInt64LittleEndian(symbol[16..]);
                if ((symbol[4] & 0xF) != 2 || value == 0 || length == 0) // STT_FUNC, defined here
                    continue;
                var name = stringsOffset + (int)BinaryPrimitives.ReadUInt32LittleEndian(symbol);
                var end = name < file.Length ? span[name..].IndexOf((byte)0) : -1;
                if (end > 0)
                    functions.Add((value, value + length, System.Text.Encoding.ASCII.GetString(file, name, end)));
            }
        }
        return new ElfSymbols([.. functions], firstLoad);
    }
}
