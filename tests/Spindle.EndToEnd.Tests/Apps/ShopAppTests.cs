using System.Net;
using System.Text.Json;
using Spindle.EndToEnd.Tests.Support;

namespace Spindle.EndToEnd.Tests.Apps;

/// <summary><c>spindle up</c> of one application with many real components (see <see cref="ShopApp"/>), over real HTTP.</summary>
public sealed class ShopAppTests(ShopApp shop) : IClassFixture<ShopApp>
{
    private static readonly CancellationToken Ct = TestContext.Current.CancellationToken;

    private async Task<(HttpStatusCode Status, string Body, HttpResponseMessage Response)> GetAsync(string path)
    {
        var r = await shop.Client.GetAsync(path, Ct);
        return (r.StatusCode, await r.Content.ReadAsStringAsync(Ct), r);
    }

    private async Task<EchoReply> EchoAsync(string path)
    {
        var (status, body, r) = await GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("application/json", r.Content.Headers.ContentType?.MediaType);
        return EchoReply.Parse(body);
    }

    [Fact]
    public async Task Each_component_answers_on_its_route_under_the_base()
    {
        Assert.Equal((HttpStatusCode.OK, "Hello from JavaScript\n"), Pick(await GetAsync("/shop/hello")));
        Assert.Equal((HttpStatusCode.OK, "Hello from the Spin JS SDK\n"), Pick(await GetAsync("/shop/spinjs")));
        Assert.Equal((HttpStatusCode.OK, "Hello, world!\n"), Pick(await GetAsync("/shop/wat")));
        // Without the base nothing matches.
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/hello")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync("/.well-known/spin/health")).Status);
    }

    [Fact]
    public async Task Wildcard_route_gives_the_guest_path_info_and_route_headers()
    {
        var echo = await EchoAsync("/shop/echo/a/b/?x=1");
        Assert.Equal("GET", echo.Method);
        Assert.EndsWith("/shop/echo/a/b/?x=1", echo.Url);
        Assert.Equal("/a/b/", echo.Header("spin-path-info"));
        Assert.Equal("/shop/echo/...", echo.Header("spin-matched-route"));
        Assert.Equal("/echo/...", echo.Header("spin-raw-component-route"));
        Assert.Equal("/echo", echo.Header("spin-component-route"));
        Assert.Equal("/shop", echo.Header("spin-base-path"));
        Assert.Equal($"{shop.Host.BaseUrl.GetLeftPart(UriPartial.Authority)}/shop/echo/a/b/?x=1", echo.Header("spin-full-url"));
        Assert.StartsWith("127.0.0.1:", echo.Header("spin-client-addr"));

        // The prefix alone matches with empty path info.
        Assert.Equal("", (await EchoAsync("/shop/echo")).Header("spin-path-info"));
    }

    [Fact]
    public async Task Parameter_route_gives_the_guest_path_match_headers()
    {
        var echo = await EchoAsync("/shop/users/alice/orders/42");
        Assert.Equal("alice", echo.Header("spin-path-match-user-id"));
        Assert.Equal("42", echo.Header("spin-path-match-order"));
        Assert.Equal("", echo.Header("spin-path-info"));
        Assert.Equal("/shop/users/:user_id/orders/:order", echo.Header("spin-matched-route"));
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/shop/users/alice/orders")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/shop/users/alice/orders/42/more")).Status);
    }

    [Fact]
    public async Task Private_component_is_not_reachable_from_outside()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/shop/internal")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/internal")).Status);
        Assert.DoesNotContain("internal", shop.Output.ToString());
        Assert.Contains("hello: http://", shop.Output.ToString());
    }

    [Fact]
    public async Task Static_response_is_served_next_to_components()
    {
        var (status, body, r) = await GetAsync("/shop/static");
        Assert.Equal(HttpStatusCode.Created, status);
        Assert.Equal("static body", body);
        Assert.Equal("static", r.Headers.GetValues("x-kind").Single());
    }

    [Fact]
    public async Task Mounted_files_are_read_by_a_Wagi_module_and_nothing_outside_them()
    {
        Assert.Equal((HttpStatusCode.OK, "hello from a mounted file\n"), Pick(await GetAsync("/shop/files?/data/hello.txt")));
        var (status, body, _) = await GetAsync("/shop/files?/data/missing.txt");
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Contains("open /data/missing.txt failed", body);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/shop/files?/etc/passwd")).Status);
    }

    [Fact]
    public async Task Mounted_files_are_read_by_a_component_through_wasi_filesystem()
    {
        var (status, body, _) = await GetAsync("/shop/wat-files");
        Assert.True(status == HttpStatusCode.OK, string.Join('\n', shop.Log.Lines.Where(l => l.Contains("wat-files", StringComparison.Ordinal))));
        Assert.Equal("hello from a mounted file\n", body);
    }

    [Fact]
    public async Task Environment_comes_from_the_manifest_with_command_line_overrides()
    {
        var (status, body, _) = await GetAsync("/shop/env");
        Assert.Equal(HttpStatusCode.OK, status);
        var env = body.Split('\n').Where(l => l.StartsWith("ENV ", StringComparison.Ordinal)).Select(l => l[4..]).ToList();
        Assert.Contains("FROM_MANIFEST=manifest", env);
        Assert.Contains("OVERRIDDEN=cli", env);
        Assert.Contains("FROM_CLI=cli", env);
        Assert.DoesNotContain("OVERRIDDEN=manifest", env);
        Assert.Contains("X_BASE_PATH=/shop", env);
    }

    [Theory]
    [InlineData("2")] // fermyon:spin/variables@2.0.0
    [InlineData("3")] // spin:variables/variables@3.0.0
    public async Task Component_reads_its_variables_through_the_Spin_variables_interfaces(string api)
    {
        var (status, body, _) = await GetAsync($"/shop/vars?api={api}&names=message,token,missing,Bad-Name,greeting");
        Assert.Equal(HttpStatusCode.OK, status);
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        Assert.Equal("hello, world", root.GetProperty("message").GetProperty("ok").GetString());
        Assert.Equal(ShopApp.Secret, root.GetProperty("token").GetProperty("ok").GetString());
        Assert.Equal("undefined", root.GetProperty("missing").GetProperty("err").GetString());
        Assert.Equal("invalid-name", root.GetProperty("Bad-Name").GetProperty("err").GetString());
        Assert.Contains("Bad-Name", root.GetProperty("Bad-Name").GetProperty("message").GetString());
        // Application variables are not component variables: the component sees only its own table.
        Assert.Equal("undefined", root.GetProperty("greeting").GetProperty("err").GetString());
        Assert.DoesNotContain(ShopApp.Secret, shop.Log.Text);
    }

    [Fact]
    public async Task Guest_trap_answers_500_and_the_server_keeps_serving()
    {
        for (var i = 0; i < 2; i++)
        {
            var (status, body, _) = await GetAsync("/shop/trap");
            Assert.Equal(HttpStatusCode.InternalServerError, status);
            Assert.Equal("", body);
            Assert.Equal((HttpStatusCode.OK, "Hello, world!\n"), Pick(await GetAsync("/shop/wat")));
        }
        Assert.Contains(shop.Log.Lines, l => l.Contains("trap", StringComparison.Ordinal) && l.Contains("failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task JavaScript_exception_answers_500_and_the_next_request_is_served()
    {
        Assert.Equal(HttpStatusCode.InternalServerError, (await GetAsync("/shop/throw")).Status);
        Assert.Equal((HttpStatusCode.OK, "Hello from JavaScript\n"), Pick(await GetAsync("/shop/hello")));
    }

    private static (HttpStatusCode, string) Pick((HttpStatusCode Status, string Body, HttpResponseMessage _) r) => (r.Status, r.Body);
}
