# Fails the build if an ISA object file defines a global or weak symbol outside its own
# namespace fastopt::<isa>. Such a symbol (an inline function or template instantiated from
# a header outside FASTOPT_NAMESPACE_BEGIN, e.g. std::vector<float>) could be merged by the
# linker with the copy from another ISA build, and the baseline path could then execute
# AVX-512 instructions. Run as: cmake -DNM=<nm> -DISA=<isa> -DOBJECTS=<a;b> -P this-file
separate_arguments(objects NATIVE_COMMAND "${OBJECTS}")
set(bad "")
foreach(obj IN LISTS objects)
  execute_process(COMMAND ${NM} -C --defined-only ${obj} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "check_isa_symbols: '${NM}' failed on ${obj}")
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  foreach(line IN LISTS lines)
    # "<address> <type> <name>": uppercase types are global, V/W/u are weak or unique.
    if(line MATCHES "^[0-9a-fA-F]+ ([A-Zu]) (.*)$")
      set(name "${CMAKE_MATCH_2}")
      # A name that mentions fastopt::<isa>:: anywhere (its scope, a template argument, or
      # after a demangled return type: "void fastopt::generic::parallel_for<...>(...)", which
      # an -O2 build emits where -O3 inlines) is distinct per ISA, so no other ISA's copy can
      # replace it. DW.ref.__gxx_personality_v0: the shared exception-personality pointer.
      if(NOT name MATCHES "fastopt::${ISA}::" AND NOT name MATCHES "^DW\\.ref\\.")
        string(APPEND bad "\n  ${obj}: ${line}")
      endif()
    endif()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "fastopt: symbols outside namespace fastopt::${ISA} in the ${ISA} kernels:${bad}")
endif()
