package dev.pyfw;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.OutputStream;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The library must also load from inside a jar, as a user gets it: extracted to a temporary file. */
class PackagingTest {
  @Test
  void loadsTheLibraryFromAJar(@TempDir Path tmp) throws Exception {
    Path classes = Paths.get(PfwNative.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    assertNotNull(PfwNative.class.getResource("native/" + PfwNative.platform() + "/" + System.mapLibraryName("pfw_jni")),
        "the Maven build puts libpfw_jni on the classpath");
    Path jar = tmp.resolve("pyfw-runtime.jar");
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
         Stream<Path> files = Files.walk(classes)) {
      for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
        out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace('\\', '/')));
        Files.copy(f, (OutputStream) out);
        out.closeEntry();
      }
    }
    // A loader that does not delegate to the test's classpath, so this is a second, separate PfwNative.
    try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()},
        ClassLoader.getPlatformClassLoader())) {
      Class<?> pfw = Class.forName("dev.pyfw.Pfw", true, loader);
      assertEquals(loader, pfw.getClassLoader());
      Method version = pfw.getMethod("version");
      assertEquals(Pfw.version(), version.invoke(null));
      // And it runs a model, not just a version string.
      Class<?> model = Class.forName("dev.pyfw.Model", true, loader);
      Object m = model.getMethod("load", Path.class).invoke(null, Golden.model(Golden.find("mlp")));
      model.getMethod("close").invoke(m);
    }
  }
}
