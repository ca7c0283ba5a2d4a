using System.Text.RegularExpressions;

namespace AsyncLens.Testing;

/// <summary>
/// Lines the tests expect in reports, marked in the target programs' sources with <c>// @tag</c>.
/// The file is the full path, as the PDB records it.
/// </summary>
internal sealed partial class SourceMarkers
{
    private readonly Dictionary<string, (string File, int Line)> _markers = new();

    public SourceMarkers(string directory)
    {
        foreach (var file in Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories))
        {
            var lines = File.ReadAllLines(file);
            for (var i = 0; i < lines.Length; i++)
            {
                foreach (Match m in Marker().Matches(lines[i]))
                {
                    if (!_markers.TryAdd(m.Groups[1].Value, (file, i + 1)))
                        throw new InvalidOperationException($"marker @{m.Groups[1].Value} appears twice");
                }
            }
        }
    }

    public (string File, int Line) this[string tag] =>
        _markers.TryGetValue(tag, out var at) ? at : throw new KeyNotFoundException($"no // @{tag} marker in the target sources");

    public int Line(string tag) => this[tag].Line;

    [GeneratedRegex(@"//.*?@([\w.-]+)")]
    private static partial Regex Marker();
}
