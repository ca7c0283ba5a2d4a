using System.Collections.Concurrent;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace AsyncLens.Symbols;

/// <summary>
/// The portable PDB of one assembly, found embedded in it or next to it. Assemblies
/// without one (stripped, Windows PDB, in-memory) give <see langword="null"/> lines,
/// never an error.
/// </summary>
internal sealed class AssemblySymbols
{
    private static readonly ConcurrentDictionary<Assembly, AssemblySymbols?> s_cache = new();
    private static readonly ConcurrentDictionary<string, AssemblySymbols?> s_byPath = new(StringComparer.Ordinal);

    // Async method stepping information (yield/resume offsets per await).
    private static readonly Guid s_asyncSteppingKind = new("54FD2AC5-E925-401A-9C2A-F94F171072F8");

    private readonly MetadataReader _pdb;
    private readonly ConcurrentDictionary<int, SequencePointTable> _sequencePoints = new();

    // The provider owns the memory the reader reads from; it lives as long as this object.
    private readonly MetadataReaderProvider _provider;

    private AssemblySymbols(MetadataReaderProvider provider)
    {
        _provider = provider;
        _pdb = provider.GetMetadataReader();
    }

    public static AssemblySymbols? For(Assembly assembly) => s_cache.GetOrAdd(assembly, Load);

    /// <summary>The symbols of the assembly at <paramref name="path"/> (a module of another process, read from outside).</summary>
    public static AssemblySymbols? ForFile(string path) => s_byPath.GetOrAdd(path, Load);

    /// <summary>Sequence points of a method, or null when the PDB has none for it.</summary>
    public SequencePointTable? SequencePoints(MethodBase method) => SequencePoints(method.MetadataToken);

    /// <inheritdoc cref="SequencePoints(MethodBase)"/>
    public SequencePointTable? SequencePoints(int methodToken)
    {
        var table = _sequencePoints.GetOrAdd(methodToken, ReadSequencePoints);
        return table.IsEmpty ? null : table;
    }

    /// <summary>
    /// The (yield offset, resume offset) of each await of an async method, in state order. The C#
    /// compiler attaches this record to the state machine's MoveNext (not to the kickoff method).
    /// </summary>
    public AwaitOffsets[]? AsyncStepping(MethodBase moveNext) => AsyncStepping(moveNext.MetadataToken);

    /// <inheritdoc cref="AsyncStepping(MethodBase)"/>
    public AwaitOffsets[]? AsyncStepping(int moveNextToken)
    {
        try
        {
            var handle = MetadataTokens.MethodDefinitionHandle(moveNextToken);
            foreach (var cdiHandle in _pdb.GetCustomDebugInformation(handle))
            {
                var cdi = _pdb.GetCustomDebugInformation(cdiHandle);
                if (_pdb.GetGuid(cdi.Kind) != s_asyncSteppingKind)
                    continue;
                var blob = _pdb.GetBlobReader(cdi.Value);
                blob.ReadUInt32(); // catch handler offset
                var awaits = new List<AwaitOffsets>();
                while (blob.RemainingBytes > 0)
                {
                    var yieldOffset = blob.ReadInt32();
                    var resumeOffset = blob.ReadInt32();
                    blob.ReadCompressedInteger(); // MoveNext method row
                    awaits.Add(new AwaitOffsets(yieldOffset, resumeOffset));
                }
                return awaits.ToArray();
            }
        }
        catch (Exception ex) when (ex is BadImageFormatException or ArgumentException)
        {
        }
        return null;
    }

    private SequencePointTable ReadSequencePoints(int methodToken)
    {
        try
        {
            var handle = MetadataTokens.MethodDefinitionHandle(methodToken);
            var info = _pdb.GetMethodDebugInformation(handle);
            if (info.SequencePointsBlob.IsNil)
                return SequencePointTable.Empty;
            var points = new List<SequencePointTable.Point>();
            foreach (var sp in info.GetSequencePoints())
            {
                var path = sp.Document.IsNil ? null : _pdb.GetString(_pdb.GetDocument(sp.Document).Name);
                points.Add(new SequencePointTable.Point(sp.Offset, sp.IsHidden ? 0 : sp.StartLine, path));
            }
            return new SequencePointTable(points.ToArray());
        }
        catch (Exception ex) when (ex is BadImageFormatException or ArgumentException)
        {
            return SequencePointTable.Empty;
        }
    }

    private static AssemblySymbols? Load(Assembly assembly) =>
        assembly.IsDynamic || string.IsNullOrEmpty(assembly.Location) ? null : Load(assembly.Location);

    private static AssemblySymbols? Load(string location)
    {
        try
        {
            if (!File.Exists(location))
                return null;
            using var stream = File.OpenRead(location);
            using var pe = new PEReader(stream);
            MetadataReaderProvider? provider = null;
            string? codeViewPath = null;
            foreach (var entry in pe.ReadDebugDirectory())
            {
                if (entry.Type == DebugDirectoryEntryType.EmbeddedPortablePdb)
                {
                    provider = pe.ReadEmbeddedPortablePdbDebugDirectoryData(entry);
                    break;
                }
                if (entry.Type == DebugDirectoryEntryType.CodeView && codeViewPath is null)
                    codeViewPath = pe.ReadCodeViewDebugDirectoryData(entry).Path;
            }
            provider ??= OpenPdbFile(location, codeViewPath);
            if (provider is null)
                return null;
            return new AssemblySymbols(provider);
        }
        catch (Exception ex) when (ex is IOException or BadImageFormatException or UnauthorizedAccessException or InvalidOperationException)
        {
            return null;
        }
    }

    private static MetadataReaderProvider? OpenPdbFile(string assemblyPath, string? codeViewPath)
    {
        var candidates = new List<string> { Path.ChangeExtension(assemblyPath, ".pdb") };
        if (!string.IsNullOrEmpty(codeViewPath))
        {
            candidates.Add(Path.Combine(Path.GetDirectoryName(assemblyPath) ?? ".", Path.GetFileName(codeViewPath)));
            candidates.Add(codeViewPath);
        }
        foreach (var path in candidates.Distinct())
        {
            if (!File.Exists(path))
                continue;
            try
            {
                using var pdbStream = File.OpenRead(path);
                var provider = MetadataReaderProvider.FromPortablePdbStream(pdbStream, MetadataStreamOptions.PrefetchMetadata);
                provider.GetMetadataReader(); // throws for a Windows PDB
                return provider;
            }
            catch (Exception ex) when (ex is IOException or BadImageFormatException or UnauthorizedAccessException)
            {
            }
        }
        return null;
    }
}

/// <summary>Where an await suspends the method and where it continues, as IL offsets of MoveNext.</summary>
internal readonly record struct AwaitOffsets(int YieldOffset, int ResumeOffset);
