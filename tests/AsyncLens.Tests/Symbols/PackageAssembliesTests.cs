using System.Text.Json;
using AsyncLens.Symbols;
using Xunit;

namespace AsyncLens.Tests.Symbols;

/// <summary>Which assemblies are a NuGet package's: the runtime files of the libraries a deps.json says are packages.</summary>
public sealed class PackageAssembliesTests
{
    [Fact]
    public void The_runtime_files_of_package_libraries_are_packages_and_those_of_projects_are_not()
    {
        using var deps = JsonDocument.Parse("""
            {
              "targets": {
                ".NETCoreApp,Version=v10.0": {
                  "Shop/1.0.0": { "dependencies": { "Npgsql": "10.0.3" }, "runtime": { "Shop.dll": {} } },
                  "Shop.Data/1.0.0": { "runtime": { "Shop.Data.dll": {} } },
                  "Npgsql/10.0.3": { "runtime": { "lib/net8.0/Npgsql.dll": { "assemblyVersion": "10.0.3.0" } } },
                  "Dapper/2.1.86": { "runtime": { "lib/net8.0/Dapper.dll": {} } }
                }
              },
              "libraries": {
                "Shop/1.0.0": { "type": "project" },
                "Shop.Data/1.0.0": { "type": "project" },
                "Npgsql/10.0.3": { "type": "package", "path": "npgsql/10.0.3" },
                "Dapper/2.1.86": { "type": "package" }
              }
            }
            """);
        var files = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        PackageAssemblies.AddPackageFiles(deps.RootElement, files);
        Assert.Equal(["Dapper.dll", "Npgsql.dll"], files.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_app_is_its_own_code_and_the_framework_is_not()
    {
        Assert.Equal(CodeKind.User, CodeOrigin.Kind(typeof(PackageAssembliesTests).Assembly));
        Assert.Equal(CodeKind.Framework, CodeOrigin.Kind(typeof(JsonDocument).Assembly));
        // xunit is a package of this test project: its deps.json, beside it, says so.
        Assert.Equal(CodeKind.Package, CodeOrigin.Kind(typeof(FactAttribute).Assembly));
    }

    [Fact]
    public void A_module_of_another_process_known_by_its_path_is_judged_the_same_way()
    {
        var own = typeof(PackageAssembliesTests).Assembly.Location;
        var directory = Path.GetDirectoryName(own)!;

        Assert.Equal(CodeKind.User, CodeOrigin.KindOfFile(own));
        // The test project's deps.json lists xunit's file as a package's, as an app's lists Npgsql's or StackExchange.Redis's.
        Assert.Equal(CodeKind.Package, CodeOrigin.KindOfFile(typeof(FactAttribute).Assembly.Location));
        Assert.Equal(CodeKind.Framework, CodeOrigin.KindOfFile(typeof(JsonDocument).Assembly.Location));
        Assert.Equal(CodeKind.Framework, CodeOrigin.KindOfFile("/opt/other-dotnet/shared/Microsoft.AspNetCore.App/10.0.1/Shop.Like.dll"));
        Assert.Equal(CodeKind.Framework, CodeOrigin.KindOfFile(Path.Combine(directory, "Microsoft.Extensions.Logging.dll")));
        Assert.Equal(CodeKind.Framework, CodeOrigin.KindOfFile("Dynamic.Module"));
        Assert.Equal(CodeKind.Framework, CodeOrigin.KindOfFile(null));
        Assert.Equal(CodeKind.User, CodeOrigin.KindOfFile("/srv/shared/MyApp/bin/MyApp.dll"));
    }
}
