# Bundles the worker runtime's JavaScript (worker/js/main.js, its imports and the npm packages
# they use) into one function expression with esbuild, and embeds it in the binary.
#
# npm installs the build-time packages pinned by worker/js/package-lock.json into the build
# tree (never the source tree); esbuild finds them through NODE_PATH. The bundle has the form
#   (function (native) { <bundle>; return __isolatedRuntime.install(native); })
# which is what worker/script_context.cc evaluates. worker/js/bundle_globals.js and
# bundle_url_global.js supply the globals that npm packages use while the bundle is evaluated (esbuild --inject). --keep-names
# keeps each class's `name` (esbuild would otherwise rename classes that refer to themselves,
# making `Request.name` "_Request"). --alias gives whatwg-url worker/js/tr46_lazy.js for tr46.
#
# worker/js/typescript/strip_types.js (sucrase's TypeScript transform) is bundled apart, minified,
# and embedded as kStripTypesJs: worker/type_stripper.cc evaluates it in an isolate of its own
# only when a script loads a .ts file, so the runtime bundle and its snapshot do not carry it.
# Defines RUNTIME_JS_CC and STRIP_TYPES_JS_CC, the generated sources.

find_program(NPM_EXECUTABLE npm)
find_program(NODE_EXECUTABLE NAMES node nodejs)
if(NOT NPM_EXECUTABLE OR NOT NODE_EXECUTABLE)
  message(FATAL_ERROR "node and npm are needed to bundle the runtime's JavaScript: "
                      "run scripts/deps.sh (Debian: apt-get install nodejs npm)")
endif()

set(_js_src "${CMAKE_CURRENT_SOURCE_DIR}/worker/js")
set(_js_build "${CMAKE_CURRENT_BINARY_DIR}/js")
set(_js_stamp "${_js_build}/node_modules/.package-lock.json")
set(_js_bundle "${_js_build}/runtime.bundle.js")
set(RUNTIME_JS_CC "${CMAKE_CURRENT_BINARY_DIR}/runtime_js.cc")
file(MAKE_DIRECTORY "${_js_build}")

add_custom_command(
  OUTPUT "${_js_stamp}"
  COMMAND ${CMAKE_COMMAND} -E copy "${_js_src}/package.json" "${_js_src}/package-lock.json"
          "${_js_build}/"
  COMMAND ${NPM_EXECUTABLE} ci --no-audit --no-fund --loglevel=error
  WORKING_DIRECTORY "${_js_build}"
  DEPENDS "${_js_src}/package.json" "${_js_src}/package-lock.json"
  COMMENT "Installing the runtime's build-time npm packages (npm ci)"
  VERBATIM)

file(GLOB _js_sources CONFIGURE_DEPENDS "${_js_src}/*.js")
add_custom_command(
  OUTPUT "${_js_bundle}"
  COMMAND ${CMAKE_COMMAND} -E env "NODE_PATH=${_js_build}/node_modules"
          "${_js_build}/node_modules/.bin/esbuild" "${_js_src}/main.js"
          --bundle --format=iife --global-name=__isolatedRuntime --target=chrome102
          --platform=neutral --main-fields=module,main --keep-names --log-level=warning
          "--inject:${_js_src}/bundle_globals.js" "--inject:${_js_src}/bundle_url_global.js"
          "--alias:tr46=${_js_src}/tr46_lazy.js"
          "--banner:js=(function (native) {"
          "--footer:js=return __isolatedRuntime.install(native); })"
          "--outfile=${_js_bundle}"
  DEPENDS ${_js_sources} "${_js_stamp}"
  COMMENT "Bundling the runtime's JavaScript (esbuild)"
  VERBATIM)

add_custom_command(
  OUTPUT "${RUNTIME_JS_CC}"
  COMMAND ${CMAKE_COMMAND} -DINPUT=${_js_bundle} -DOUTPUT=${RUNTIME_JS_CC} -DNAME=kRuntimeJs
          -DNAMESPACE=isolated::worker -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/EmbedFile.cmake
  DEPENDS "${_js_bundle}" ${CMAKE_CURRENT_SOURCE_DIR}/cmake/EmbedFile.cmake
  COMMENT "Embedding the runtime bundle"
  VERBATIM)

set(_ts_bundle "${_js_build}/strip_types.bundle.js")
set(STRIP_TYPES_JS_CC "${CMAKE_CURRENT_BINARY_DIR}/strip_types_js.cc")
add_custom_command(
  OUTPUT "${_ts_bundle}"
  COMMAND ${CMAKE_COMMAND} -E env "NODE_PATH=${_js_build}/node_modules"
          "${_js_build}/node_modules/.bin/esbuild" "${_js_src}/typescript/strip_types.js"
          --bundle --format=iife --global-name=__isolatedStripTypes --target=chrome102
          --platform=neutral --main-fields=module,main --minify --log-level=warning
          "--outfile=${_ts_bundle}"
  DEPENDS "${_js_src}/typescript/strip_types.js" "${_js_stamp}"
  COMMENT "Bundling the TypeScript type stripper (esbuild)"
  VERBATIM)

add_custom_command(
  OUTPUT "${STRIP_TYPES_JS_CC}"
  COMMAND ${CMAKE_COMMAND} -DINPUT=${_ts_bundle} -DOUTPUT=${STRIP_TYPES_JS_CC} -DNAME=kStripTypesJs
          -DNAMESPACE=isolated::worker -P ${CMAKE_CURRENT_SOURCE_DIR}/cmake/EmbedFile.cmake
  DEPENDS "${_ts_bundle}" ${CMAKE_CURRENT_SOURCE_DIR}/cmake/EmbedFile.cmake
  COMMENT "Embedding the TypeScript type stripper"
  VERBATIM)
