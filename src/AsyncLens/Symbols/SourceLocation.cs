namespace AsyncLens.Symbols;

/// <summary>A line in a source file, as the PDB records the file's path.</summary>
internal readonly record struct SourceLocation(string File, int Line)
{
    public override string ToString() => $"{File}:{Line}";
}
