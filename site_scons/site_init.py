"""Let ``env.Tool("dyntools")`` find the ``dyntools`` package of this site_scons directory.

SCons puts this directory on ``sys.path`` and runs this file; adding it to the default
toolpath makes the tool loader find ``dyntools/`` as the same, already imported, package.
"""

import dyntools
import SCons.Tool

if dyntools.TOOLPATH not in SCons.Tool.DefaultToolpath:
    SCons.Tool.DefaultToolpath.append(dyntools.TOOLPATH)
