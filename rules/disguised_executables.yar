// Executables disguised by their names, and executables inside archives.
// Globals set by pushdetect for every scan: `filename` (the submitted or archived name)
// and `archive_depth` (0 for the submitted file, 1 and more inside archives).

rule executable_with_double_extension
{
    meta:
        score = 75
        description = "Executable disguised with a double extension (e.g. invoice.pdf.exe)"
    condition:
        filename matches /\.(pdf|docx?|xlsx?|pptx?|rtf|txt|jpe?g|png|gif|bmp|mp3|mp4|avi|zip|rar)\s*\.(exe|scr|com|pif|bat|cmd|cpl|msi|js|jse|vbs|vbe|wsf|hta|ps1|lnk)$/i
}

rule executable_inside_archive
{
    meta:
        score = 60
        description = "Windows executable inside an archive"
    condition:
        archive_depth > 0 and filesize > 0x40 and uint16(0) == 0x5A4D and
        uint32(0x3C) < filesize - 4 and uint32(uint32(0x3C)) == 0x00004550
}
