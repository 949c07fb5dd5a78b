using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Spindle.Hosting;

/// <summary>
/// Loads a PEM certificate chain and its PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC), with one clear line per
/// failure: unreadable file, no certificate, no usable key, key that does not match the certificate.
/// </summary>
public static class TlsCertificateLoader
{
    /// <summary>The leaf certificate with its key, and the rest of the chain.</summary>
    public static (X509Certificate2 Certificate, X509Certificate2Collection Chain) Load(string certPath, string keyPath)
    {
        var certPem = ReadFile(certPath, "TLS certificate");
        var keyPem = ReadFile(keyPath, "TLS key");

        var chain = new X509Certificate2Collection();
        try
        {
            chain.ImportFromPem(certPem);
        }
        catch (CryptographicException e)
        {
            throw new SpindleStartupException($"TLS certificate '{certPath}' is not a valid PEM certificate: {e.Message}", e);
        }
        if (chain.Count == 0)
            throw new SpindleStartupException($"TLS certificate '{certPath}' contains no PEM certificate");

        if (!HasUsableKey(keyPem))
            throw new SpindleStartupException($"TLS key '{keyPath}' contains no PEM private key (PKCS#8, PKCS#1 or SEC1)");

        X509Certificate2 leaf;
        try
        {
            leaf = X509Certificate2.CreateFromPem(certPem, keyPem);
        }
        catch (CryptographicException e)
        {
            throw new SpindleStartupException($"TLS key '{keyPath}' does not match certificate '{certPath}': {e.Message}", e);
        }
        chain.RemoveAt(0);
        return (leaf, chain);
    }

    private static string ReadFile(string path, string what)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpindleStartupException($"cannot read {what} '{path}': {e.Message}", e);
        }
    }

    private static bool HasUsableKey(string pem)
    {
        foreach (var create in new Func<AsymmetricAlgorithm>[] { RSA.Create, ECDsa.Create })
        {
            using var alg = create();
            try
            {
                alg.ImportFromPem(pem);
                return true;
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException)
            {
            }
        }
        return false;
    }
}
