// Windows executables naming the APIs of process injection or of downloading payloads.

private rule is_pe
{
    condition:
        filesize > 0x40 and uint16(0) == 0x5A4D and
        uint32(0x3C) < filesize - 4 and uint32(uint32(0x3C)) == 0x00004550
}

rule pe_process_injection_apis
{
    meta:
        score = 80
        description = "Windows executable importing process injection APIs (remote memory write and thread creation)"
    strings:
        $alloc = "VirtualAllocEx" ascii wide
        $write = "WriteProcessMemory" ascii wide
        $thread = "CreateRemoteThread" ascii wide
        $ntthread = "NtCreateThreadEx" ascii wide
        $queue = "QueueUserAPC" ascii wide
        $hollow = "NtUnmapViewOfSection" ascii wide
    condition:
        is_pe and $write and ($alloc or $hollow) and ($thread or $ntthread or $queue)
}

rule pe_downloader_apis
{
    meta:
        score = 60
        description = "Windows executable importing APIs that download and run files"
    strings:
        $dl1 = "URLDownloadToFileA" ascii wide
        $dl2 = "URLDownloadToFileW" ascii wide
        $dl3 = "InternetOpenUrlA" ascii wide
        $dl4 = "InternetOpenUrlW" ascii wide
        $dl5 = "WinHttpOpenRequest" ascii wide
        $run1 = "ShellExecuteA" ascii wide
        $run2 = "ShellExecuteW" ascii wide
        $run3 = "WinExec" ascii wide
        $run4 = "CreateProcessA" ascii wide
        $run5 = "CreateProcessW" ascii wide
    condition:
        is_pe and any of ($dl*) and any of ($run*)
}
