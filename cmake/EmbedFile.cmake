# Turns a file into a C++ source defining `extern const std::string_view NAME`, so that
# JavaScript shipped with the runtime is part of the binary. Run in script mode:
#   cmake -DINPUT=in.js -DOUTPUT=out.cc -DNAME=symbol -DNAMESPACE=ns -P EmbedFile.cmake
file(READ "${INPUT}" _hex HEX)
string(LENGTH "${_hex}" _len)
math(EXPR _bytes "${_len} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," _chars "${_hex}")
file(WRITE "${OUTPUT}"
     "// Generated from ${INPUT} by cmake/EmbedFile.cmake. Do not edit.\n"
     "#include <string_view>\n"
     "namespace ${NAMESPACE} {\n"
     "static const char k${NAME}Data[] = {${_chars} 0};\n"
     "extern const std::string_view ${NAME};\n"
     "const std::string_view ${NAME}(k${NAME}Data, ${_bytes});\n"
     "}  // namespace ${NAMESPACE}\n")
