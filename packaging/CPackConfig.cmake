# Debian package of isolated (`cpack -G DEB` in the build directory). Included from the top-level
# CMakeLists.txt after the install() rules.
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "isolated")
set(CPACK_PACKAGE_VENDOR "isolated")
set(CPACK_PACKAGE_CONTACT "isolated maintainers <maintainers@isolated.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Supervised pool of persistent V8 isolates serving Workers-style JavaScript handlers")
set(CPACK_DEBIAN_PACKAGE_SECTION "web")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Shared-library dependencies (libevent, capnp, and libnode when it is the system one) are
# computed by dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
if(V8_PRIVATE_PREFIX)
  # The bundled private libnode still needs its own runtime dependencies from Debian.
  set(CPACK_DEBIAN_PACKAGE_DEPENDS "libbrotli1, libc-ares2, libicu72, libnghttp2-14, libuv1, libssl3")
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS "${V8_PRIVATE_PREFIX}/usr/lib/x86_64-linux-gnu")
endif()
# postinst puts the example in /etc/isolated/worker.js on first install (the unit's script).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${CMAKE_CURRENT_SOURCE_DIR}/packaging/postinst")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
